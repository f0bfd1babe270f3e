// Speed of the CPU detector (backends/cpu/detector/cpu_detector.h) on a
// quantized CenterNet artifact: images/s per ISA at 1 and 2 threads, and
// the plain integer reference's once for comparison (its result checks
// every CPU run, byte for byte). Run:
//   build/ci/bench/detector_bench build/ci/tests/tools/centernet-w8a8-fixed
//       [--photo=.cache/darknet/dog.jpg] [--seconds=3] [--profile]
//       [--isa=avx512vnni] [--threads=1] [--reference=false]
// (the artifact is what ctest -R fxtool_quantize_detector makes).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "backends/cpu/detector/cpu_detector.h"
#include "backends/cpu/int8_matmul.h"
#include "model/centernet/int_reference.h"
#include "model/centernet/quantized_detector.h"
#include "model/image/image.h"

ABSL_FLAG(std::string, photo, "",
          "a photo to run on (default: a fixed pseudo-random image)");
ABSL_FLAG(double, seconds, 3, "minimum time per configuration");
ABSL_FLAG(bool, profile, false,
          "print the time per layer kind of the fastest configuration");
ABSL_FLAG(bool, reference, true, "also time RunIntReference once");
ABSL_FLAG(std::string, isa, "", "only this ISA (scalar, avx2, avx512vnni)");
ABSL_FLAG(int, threads, 0, "only this thread count (default: 1 and 2)");

namespace {

namespace mc = ::fxserve::model::centernet;
using ::fxserve::backends::cpu::CpuDetector;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<uint8_t> Input() {
  const std::string photo = absl::GetFlag(FLAGS_photo);
  if (!photo.empty()) {
    absl::StatusOr<fxserve::model::image::RgbImage> image =
        fxserve::model::image::ReadImage(photo);
    if (!image.ok()) {
      std::fprintf(stderr, "%s\n", image.status().ToString().c_str());
      std::exit(1);
    }
    return mc::ResizeToInput(*image);
  }
  // Smooth-ish content (8 x 8 blocks plus noise), so that the activations
  // look more like a photo's than white noise does.
  std::mt19937 rng(1);
  std::vector<uint8_t> blocks(64 * 64 * 3);
  for (uint8_t& b : blocks) b = static_cast<uint8_t>(rng() >> 24);
  std::vector<uint8_t> v(512 * 512 * 3);
  for (int y = 0; y < 512; ++y) {
    for (int x = 0; x < 512; ++x) {
      for (int c = 0; c < 3; ++c) {
        const int noise = static_cast<int>(rng() % 17) - 8;
        v[(y * 512 + x) * 3 + c] = static_cast<uint8_t>(
            std::clamp(blocks[((y / 8) * 64 + x / 8) * 3 + c] + noise, 0, 255));
      }
    }
  }
  return v;
}

bool Same(const mc::IntDetectorOutput& a, const mc::IntDetectorOutput& b) {
  return a.keypoints == b.keypoints && a.detections == b.detections;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::fprintf(stderr,
                 "usage: %s ARTIFACT_DIR [--photo=PATH] [--seconds=S] "
                 "[--profile]\n",
                 args[0]);
    return 2;
  }
  absl::StatusOr<mc::QuantizedDetector> q = mc::LoadQuantizedDetector(args[1]);
  if (!q.ok()) {
    std::fprintf(stderr, "%s\n", q.status().ToString().c_str());
    return 1;
  }
  const std::vector<uint8_t> input = Input();
  std::printf("model: %s (%zu layers, %s scales)\n", args[1], q->layers.size(),
              fxserve::model::ScaleKindName(q->scales));

  mc::IntDetectorOutput want;
  bool have_want = false;
  if (absl::GetFlag(FLAGS_reference)) {
    const Clock::time_point start = Clock::now();
    absl::StatusOr<mc::IntDetectorOutput> ref = mc::RunIntReference(*q, input);
    const double s = Since(start);
    if (!ref.ok()) {
      std::fprintf(stderr, "%s\n", ref.status().ToString().c_str());
      return 1;
    }
    want = *std::move(ref);
    have_want = true;
    std::printf("%-28s %9.3f images/s  (%.1f ms/image, 1 run)\n",
                "RunIntReference (1 thread)", 1 / s, 1000 * s);
  }

  const double min_seconds = absl::GetFlag(FLAGS_seconds);
  double best = 0;
  bool all_exact = true;
  std::string best_name;
  std::vector<CpuDetector::StepTime> best_profile;
  using fxserve::backends::cpu::Isa;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni}) {
    if (!fxserve::backends::cpu::IsaSupported(isa)) continue;
    const std::string only_isa = absl::GetFlag(FLAGS_isa);
    if (!only_isa.empty() && only_isa != fxserve::backends::cpu::IsaName(isa)) {
      continue;
    }
    for (int threads : {1, 2}) {
      const int only_threads = absl::GetFlag(FLAGS_threads);
      if (only_threads > 0 && threads != only_threads) continue;
      absl::StatusOr<std::unique_ptr<CpuDetector>> d = CpuDetector::Create(
          *q,
          {.threads = threads, .isa = fxserve::backends::cpu::IsaName(isa)});
      if (!d.ok()) {
        std::fprintf(stderr, "%s\n", d.status().ToString().c_str());
        return 1;
      }
      absl::StatusOr<mc::IntDetectorOutput> first = (*d)->Run(input);  // Warm.
      if (!first.ok()) {
        std::fprintf(stderr, "%s\n", first.status().ToString().c_str());
        return 1;
      }
      if (!have_want) {
        want = *first;
        have_want = true;
      }
      const bool exact = Same(*first, want);
      int runs = 0;
      const Clock::time_point start = Clock::now();
      double fastest = 1e9;
      std::vector<CpuDetector::StepTime> profile, fastest_profile;
      while (runs < 2 || Since(start) < min_seconds) {
        const Clock::time_point t = Clock::now();
        absl::StatusOr<mc::IntDetectorOutput> out = (*d)->Run(input, &profile);
        const double s = Since(t);
        if (!out.ok()) return 1;
        if (s < fastest) {
          fastest = s;
          fastest_profile = profile;
        }
        ++runs;
      }
      const double per_image = Since(start) / runs;
      const std::string name = std::string((*d)->isa()) + ", " +
                               std::to_string(threads) + " thread" +
                               (threads > 1 ? "s" : "");
      std::printf(
          "%-28s %9.2f images/s  (%.1f ms/image mean, %.1f best, %d runs)%s\n",
          name.c_str(), 1 / per_image, 1000 * per_image, 1000 * fastest, runs,
          exact ? "" : "  MISMATCH with the reference");
      all_exact &= exact;
      if (absl::GetFlag(FLAGS_profile)) {
        std::map<std::string, double> by_kind;
        for (const CpuDetector::StepTime& s : fastest_profile) {
          by_kind[s.kind] += s.seconds;
        }
        std::printf("    ms by kind:");
        for (const auto& [kind, s] : by_kind) {
          std::printf(" %s %.1f", kind.c_str(), 1000 * s);
        }
        std::printf("\n");
      }
      if (1 / fastest > best) {
        best = 1 / fastest;
        best_name = name;
        best_profile = fastest_profile;
      }
    }
  }
  if (absl::GetFlag(FLAGS_profile) && !best_profile.empty()) {
    std::map<std::string, double> by_kind;
    double total = 0;
    for (const CpuDetector::StepTime& s : best_profile) {
      const std::string kind = s.kind;
      by_kind[kind] += s.seconds;
      total += s.seconds;
    }
    std::printf("\nprofile of the fastest run (%s), %.2f ms:\n",
                best_name.c_str(), 1000 * total);
    for (const auto& [kind, s] : by_kind) {
      std::printf("  %-16s %7.2f ms  %5.1f%%\n", kind.c_str(), 1000 * s,
                  100 * s / total);
    }
    std::printf("\nslowest steps:\n");
    std::vector<CpuDetector::StepTime> sorted = best_profile;
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
      return a.seconds > b.seconds;
    });
    for (size_t i = 0; i < std::min<size_t>(15, sorted.size()); ++i) {
      std::printf("  %7.2f ms  %s\n", 1000 * sorted[i].seconds,
                  sorted[i].name.c_str());
    }
  }
  return all_exact ? 0 : 1;
}
