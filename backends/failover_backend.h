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
// Recovery: with reopen_primary set, a background thread retries a new
// primary after first_retry, doubling the wait up to max_retry, and
// probes it with a one-token step; once one answers, the next Step moves
// every live sequence back onto it (replaying their tokens) and carries
// on there. The failed primary is never used again.
//
// Not thread-safe, like every Backend; the retry thread only ever touches
// the backends it makes.
#ifndef FXSERVE_BACKENDS_FAILOVER_BACKEND_H_
#define FXSERVE_BACKENDS_FAILOVER_BACKEND_H_

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "backends/backend.h"

namespace fxserve::backends {

struct FailoverOptions {
  // Makes a fresh primary (same model and options); empty: never retried.
  std::function<absl::StatusOr<std::unique_ptr<Backend>>()> reopen_primary;
  absl::Duration first_retry = absl::Seconds(1);
  absl::Duration max_retry = absl::Seconds(60);
  // Called on the caller's thread: once per failover with the primary's
  // failure, once per recovery.
  std::function<void(const absl::Status& fault)> on_failover;
  std::function<void()> on_recovery;
};

// Both must be made for the same model with the same options (the standby
// needs at least the primary's KV blocks).
std::unique_ptr<Backend> MakeFailoverBackend(std::unique_ptr<Backend> primary,
                                             std::unique_ptr<Backend> standby,
                                             FailoverOptions options);

}  // namespace fxserve::backends

#endif  // FXSERVE_BACKENDS_FAILOVER_BACKEND_H_
