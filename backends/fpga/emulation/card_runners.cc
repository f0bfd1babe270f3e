#include "backends/fpga/emulation/card_runners.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace fxserve::backends::fpga {

absl::StatusOr<std::unique_ptr<KernelRunner>> CreateCardKernelRunner(
    const CardManifest& manifest) {
  if (auto runner = CreateTinyGpt2StepRunner(manifest.build)) return runner;
  if (auto runner = CreateSmallGpt2StepRunner(manifest.build)) return runner;
  return absl::NotFoundError(absl::StrCat(
      "the emulated card has no C-simulation of build '", manifest.build,
      "'; it has gpt2-{tiny,small}-{w8a8,w4a8}-{pow2,fixed}"));
}

}  // namespace fxserve::backends::fpga
