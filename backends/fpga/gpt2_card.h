// The GPT-2 step kernel as XRT sees it: its name, its arguments in order,
// their register offsets and memory banks. The host binds buffers by these
// indices; the xclbin writer and the emulated card take the same manifest,
// and kernels/hw/ (v++ and u280.cfg) must agree with it.
#ifndef FXSERVE_BACKENDS_FPGA_GPT2_CARD_H_
#define FXSERVE_BACKENDS_FPGA_GPT2_CARD_H_

#include <string>
#include <vector>

#include "backends/fpga/emulation/card_manifest.h"

namespace fxserve::backends::fpga {

// The step kernel of a build is named after it: "gpt2-tiny-w4a8-pow2" ->
// "fxserve_gpt2_tiny_w4a8_pow2" (kernels/hw/gpt2_tops.cpp pastes the same
// name from its build macros), so the host can tell from any xclbin, a
// card's or the emulated one's, whether it runs the model it loads.
std::string Gpt2StepKernelName(const std::string& build);

// Argument indices of the step kernel (kernels/hw/gpt2_tops.cpp).
enum Gpt2StepArg : int {
  kArgEmb = 0,
  kArgAttn,
  kArgMlp,
  kArgHead,
  kArgKv,
  kArgStep,
  kArgLogits,
  kGpt2StepArgs,
};

// Every build the kernels exist for: gpt2-{tiny,small}-{w8a8,w4a8}-
// {pow2,fixed}.
std::vector<std::string> AllGpt2Builds();

// The manifest of an emulated card holding `build` (Gpt2BuildName) with
// `compute_units` CUs of the step kernel, each buffer on its own HBM bank.
CardManifest Gpt2CardManifest(const std::string& build, int compute_units = 1);

}  // namespace fxserve::backends::fpga

#endif  // FXSERVE_BACKENDS_FPGA_GPT2_CARD_H_
