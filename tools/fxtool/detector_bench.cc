#include "tools/fxtool/detector_bench.h"

#include <cstdio>
#include <memory>
#include <random>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "model/centernet/quantized_detector.h"
#include "tools/fxtool/detector_backends.h"

namespace fxserve::fxtool {
namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "fxtool: %s\n", std::string(status.message()).c_str());
  return 1;
}

// A photo-like input: smooth gradients plus noise, fixed seed.
std::vector<uint8_t> BenchInput() {
  std::vector<uint8_t> pixels(512 * 512 * 3);
  std::mt19937 rng(7);
  for (size_t i = 0; i < pixels.size(); ++i) {
    const size_t p = i / 3;
    const int base = static_cast<int>((p % 512 + p / 512) / 4 + 40 * (i % 3));
    pixels[i] = static_cast<uint8_t>((base + rng() % 32) & 255);
  }
  return pixels;
}

}  // namespace

int RunDetectorBench(const std::string& dir, const std::string& backend,
                     int threads, const std::vector<int>& batches) {
  absl::StatusOr<model::centernet::QuantizedDetector> q =
      model::centernet::LoadQuantizedDetector(dir);
  if (!q.ok()) return Fail(q.status());
  auto model =
      std::make_shared<model::centernet::QuantizedDetector>(*std::move(q));
  std::printf("model: %s, CenterNet W%dA8 %s, 1.295 GMAC per image\n",
              dir.c_str(), model->weight_bits,
              model::ScaleKindName(model->scales));
  std::vector<int> thread_counts = {threads};
  if (threads == 0) {
    const int cores = static_cast<int>(std::thread::hardware_concurrency());
    thread_counts = {1};
    if (cores > 1) thread_counts.push_back(cores);
  }
  const std::vector<uint8_t> input = BenchInput();
  for (int t : thread_counts) {
    absl::StatusOr<IntDetector> detector = MakeIntDetector(model, backend, t);
    if (!detector.ok()) return Fail(detector.status());
    std::printf("backend: %s\n", detector->description.c_str());
    if (absl::Status s = detector->run(input).status(); !s.ok()) {
      return Fail(s);  // Also the warm-up.
    }
    for (int batch : batches) {
      const absl::Time start = absl::Now();
      for (int i = 0; i < batch; ++i) {
        if (absl::Status s = detector->run(input).status(); !s.ok()) {
          return Fail(s);
        }
      }
      const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
      std::printf("  batch %2d: %7.2f images/s (%.1f ms/image, %.1f GMAC/s)\n",
                  batch, batch / seconds, 1e3 * seconds / batch,
                  1.295 * batch / seconds);
    }
  }
  return 0;
}

}  // namespace fxserve::fxtool
