// The GPT-2 step kernel as XRT sees it: its name, its arguments in order,
// their register offsets and memory banks. The host binds buffers by these
// indices; the xclbin writer and the emulated card take the same manifest,
// and kernels/hw/ (v++ and u280.cfg) must agree with it.
#ifndef FXSERVE_BACKENDS_FPGA_GPT2_CARD_H_
#define FXSERVE_BACKENDS_FPGA_GPT2_CARD_H_

#include <string>

#include "backends/fpga/emulation/card_manifest.h"

namespace fxserve::backends::fpga {

inline constexpr char kGpt2StepKernel[] = "fxserve_gpt2_step";

// Argument indices of fxserve_gpt2_step (kernels/hw/gpt2_tops.cpp).
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

// The manifest of an emulated card holding `build` (Gpt2BuildName) with
// `compute_units` CUs of the step kernel, each buffer on its own HBM bank.
CardManifest Gpt2CardManifest(const std::string& build, int compute_units = 1);

}  // namespace fxserve::backends::fpga

#endif  // FXSERVE_BACKENDS_FPGA_GPT2_CARD_H_
