// GPT-2 124M's four step-top builds.
#include "backends/fpga/emulation/card_runners.h"
#include "backends/fpga/emulation/gpt2_step_runner.h"

namespace fxserve::backends::fpga {

std::unique_ptr<KernelRunner> CreateSmallGpt2StepRunner(
    const std::string& build) {
  return CreateGpt2StepRunnerFor<kernels::gpt2::Gpt2SmallShape>("small", build);
}

}  // namespace fxserve::backends::fpga
