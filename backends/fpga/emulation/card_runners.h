// The kernels the emulated card can play: the GPT-2 step top in
// C-simulation for every build of kernels/top/ (shape x weight bits x
// scales). The card calls CreateCardKernelRunner once per loaded xclbin.
#ifndef FXSERVE_BACKENDS_FPGA_EMULATION_CARD_RUNNERS_H_
#define FXSERVE_BACKENDS_FPGA_EMULATION_CARD_RUNNERS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "backends/fpga/emulation/card_manifest.h"
#include "backends/fpga/emulation/kernel_runner.h"

namespace fxserve::backends::fpga {

// NotFound for a build no C-simulation exists for (the message lists them).
absl::StatusOr<std::unique_ptr<KernelRunner>> CreateCardKernelRunner(
    const CardManifest& manifest);

// Per shape (card_runner_<shape>.cc): the runner of `build` when it is one
// of that shape's four builds, else nullptr.
std::unique_ptr<KernelRunner> CreateTinyGpt2StepRunner(
    const std::string& build);
std::unique_ptr<KernelRunner> CreateSmallGpt2StepRunner(
    const std::string& build);

}  // namespace fxserve::backends::fpga

#endif  // FXSERVE_BACKENDS_FPGA_EMULATION_CARD_RUNNERS_H_
