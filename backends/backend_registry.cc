// CreateBackend: the explicit list of backends this build has.
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "backends/backend.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/csim/csim_backend.h"
#include "backends/fpga/fpga_backend.h"
#include "backends/process/process_backend.h"
#include "backends/process/process_backend.h"

namespace fxserve::backends {

std::string DeviceFaultKind(const absl::Status& status) {
  const auto kind = status.GetPayload(kDeviceFaultPayload);
  return kind.has_value() ? std::string(*kind) : "unknown";
}

absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(
    const std::string& name, const model::QuantizedGpt2& model,
    const BackendOptions& options) {
  if (name != "cpu" && name != "csim" && name != "fpga") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown backend '", name, "'; choose cpu, csim or fpga"));
  }
  if (options.own_process) {
    return process::CreateProcessBackend(name, options.artifact_dir, model,
                                         options);
  }
  if (name == "cpu") return cpu::CreateCpuBackend(model, options);
  if (name == "csim") return csim::CreateCSimBackend(model, options);
  return fpga::CreateFpgaBackend(model, options);
}

}  // namespace fxserve::backends
