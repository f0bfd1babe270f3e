// The tiny GPT-2 shape's four step-top builds (models/tiny-gpt2).
#include "backends/fpga/emulation/card_runners.h"
#include "backends/fpga/emulation/gpt2_step_runner.h"

namespace fxserve::backends::fpga {

std::unique_ptr<KernelRunner> CreateTinyGpt2StepRunner(
    const std::string& build) {
  return CreateGpt2StepRunnerFor<kernels::gpt2::Gpt2TinyShape>("tiny", build);
}

}  // namespace fxserve::backends::fpga
