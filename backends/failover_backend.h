// A backend that runs on a primary (an FPGA) and, when the primary fails
// as a device (its Step returns Unavailable: a run that timed out or
// failed, a lost copy, a dead device process), continues every live
// sequence on a standby (the CPU backend) within the same Step: it replays
// each sequence's tokens on the standby, then runs the failed step there.
// The backends are bit-exact (kernels/top/NUMERICS.md), so the standby's
// KV cache and logits are the primary's bits, and a caller (the engine)
// sees no error and streams the same text. Bad steps (InvalidArgument,
// ResourceExhausted) are the caller's and pass through unchanged.
//
// Not thread-safe, like every Backend. The primary is not used again
// after a failover (its device state is unknown).
#ifndef FXSERVE_BACKENDS_FAILOVER_BACKEND_H_
#define FXSERVE_BACKENDS_FAILOVER_BACKEND_H_

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "backends/backend.h"

namespace fxserve::backends {

// Called once per failover (on the caller's thread) with the primary's
// failure, e.g. to count it in metrics.
using FailoverCallback = std::function<void(const absl::Status& fault)>;

// Both must be made for the same model with the same options (the standby
// needs at least the primary's KV blocks).
std::unique_ptr<Backend> MakeFailoverBackend(std::unique_ptr<Backend> primary,
                                             std::unique_ptr<Backend> standby,
                                             FailoverCallback on_failover);

}  // namespace fxserve::backends

#endif  // FXSERVE_BACKENDS_FAILOVER_BACKEND_H_
