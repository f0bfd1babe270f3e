// A backend run in a child process (fxserve-backend-worker): every call
// goes over a socket to the real backend there. A device that hangs or
// whose driver state is broken takes down only the child, which is killed
// (with its process group: an emulated card's device process too); a new
// ProcessBackend starts a fresh child that opens the device again. This is
// how the fpga backend recovers from faults that XRT cannot recover from
// in-process (a hung compute unit, a device process that died).
//
// Threading: as Backend. The KV accounting is mirrored here, so the
// engine's frequent queries need no round trip.
#ifndef FXSERVE_BACKENDS_PROCESS_PROCESS_BACKEND_H_
#define FXSERVE_BACKENDS_PROCESS_PROCESS_BACKEND_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "backends/backend.h"

namespace fxserve::backends::process {

// $FXSERVE_BACKEND_WORKER, else fxserve-backend-worker next to the
// executable, else the build tree's.
std::string DefaultWorkerPath();

// Starts the worker and opens `backend` in it on the artifact in
// `artifact_dir` (which must hold `model`). Errors are the backend's own
// (as CreateBackend in-process would give them), or name the worker.
absl::StatusOr<std::unique_ptr<Backend>> CreateProcessBackend(
    const std::string& backend, const std::string& artifact_dir,
    const model::QuantizedGpt2& model, const BackendOptions& options);

}  // namespace fxserve::backends::process

#endif  // FXSERVE_BACKENDS_PROCESS_PROCESS_BACKEND_H_
