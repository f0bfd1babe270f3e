#include "tools/fxtool/detector_backends.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "backends/cpu/detector/cpu_detector.h"
#include "backends/csim/centernet_csim.h"

namespace fxserve::fxtool {

absl::StatusOr<IntDetector> MakeIntDetector(
    std::shared_ptr<const model::centernet::QuantizedDetector> model,
    const std::string& backend, int threads) {
  if (backend == "reference") {
    return IntDetector{"reference (plain integer C++, 1 thread)",
                       [model](absl::Span<const uint8_t> input) {
                         return model::centernet::RunIntReference(*model,
                                                                  input);
                       }};
  }
  if (backend == "cpu") {
    backends::cpu::CpuDetector::Options options;
    options.threads = threads;
    absl::StatusOr<std::unique_ptr<backends::cpu::CpuDetector>> cpu =
        backends::cpu::CpuDetector::Create(*model, options);
    if (!cpu.ok()) return cpu.status();
    std::shared_ptr<backends::cpu::CpuDetector> shared = *std::move(cpu);
    return IntDetector{
        absl::StrCat("cpu (", shared->isa(), ", ", shared->threads(), " thread",
                     shared->threads() == 1 ? "" : "s", ")"),
        [shared](absl::Span<const uint8_t> input) {
          return shared->Run(input);
        }};
  }
  if (backend == "csim") {
    absl::StatusOr<std::unique_ptr<backends::csim::CenternetCsim>> csim =
        backends::csim::CenternetCsim::Create(*model);
    if (!csim.ok()) return csim.status();
    std::shared_ptr<backends::csim::CenternetCsim> shared = *std::move(csim);
    return IntDetector{"csim (the HLS dataflow top in C-simulation)",
                       [shared](absl::Span<const uint8_t> input) {
                         return shared->Run(input);
                       }};
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--backend ", backend,
      " does not run detectors; it takes cpu, csim or reference (fpga "
      "comes with issue 15)"));
}

}  // namespace fxserve::fxtool
