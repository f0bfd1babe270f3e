// The FPGA backend: fxserve's GPT-2 step kernel on an Alveo card through
// XRT's native C++ API (xrt::device, xrt::kernel, xrt::bo, xrt::run). The
// same code drives a real card and the emulated one (XRT's software
// emulation with fxserve's device process, set up before the backend is
// created: backends/fpga/README.md); nothing here knows which it talks to.
//
// Weights are packed once into four device buffers (kernels/top/
// gpt2_device_layout.h), the KV cache is a device buffer of blocks in the
// CPU backend's layout, and one Step is one launch of the step kernel (or
// a few, when a step exceeds a launch's capacities). Every XRT exception
// becomes an absl::Status; every run waits with a timeout; a run that does
// not complete, a failed sync or a kernel-reported error marks the backend
// failed: every later Step returns Unavailable with the first failure.
#ifndef FXSERVE_BACKENDS_FPGA_FPGA_BACKEND_H_
#define FXSERVE_BACKENDS_FPGA_FPGA_BACKEND_H_

#include <memory>

#include "absl/status/statusor.h"
#include "backends/backend.h"
#include "model/quantized_gpt2.h"

namespace fxserve::backends::fpga {

// Opens XRT device options.fpga_device, loads options.xclbin and uploads
// the model. Errors name the device index, XILINX_XRT, the xclbin and
// XCL_EMULATION_MODE; FailedPrecondition when the xclbin has no kernel for
// the model's build.
absl::StatusOr<std::unique_ptr<Backend>> CreateFpgaBackend(
    const model::QuantizedGpt2& model, const BackendOptions& options);

}  // namespace fxserve::backends::fpga

#endif  // FXSERVE_BACKENDS_FPGA_FPGA_BACKEND_H_
