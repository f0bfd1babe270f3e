// The Backend interface over the C-simulation of the kernel tops: the
// golden model behind the same calls as the CPU and FPGA backends (slow;
// for tests and checks). Sequences run one after another.
#ifndef FXSERVE_BACKENDS_CSIM_CSIM_BACKEND_H_
#define FXSERVE_BACKENDS_CSIM_CSIM_BACKEND_H_

#include <memory>

#include "absl/status/statusor.h"
#include "backends/backend.h"
#include "model/quantized_gpt2.h"

namespace fxserve::backends::csim {

absl::StatusOr<std::unique_ptr<Backend>> CreateCSimBackend(
    const model::QuantizedGpt2& model, const BackendOptions& options);

}  // namespace fxserve::backends::csim

#endif  // FXSERVE_BACKENDS_CSIM_CSIM_BACKEND_H_
