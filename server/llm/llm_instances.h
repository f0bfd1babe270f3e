// One LLM model served on several instances (a model config's
// instance_group): each instance is an LlmEngine with its own backend, KV
// cache and step loop; a request goes to the least-loaded one and stays
// there. With one instance this is a thin pass-through.
//
// Threading: as LlmEngine (every method may be called from any thread).
#ifndef FXSERVE_SERVER_LLM_LLM_INSTANCES_H_
#define FXSERVE_SERVER_LLM_LLM_INSTANCES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/llm/llm_engine.h"

namespace fxserve::server::llm {

// The instance a new request goes to: the one with the fewest requests in
// flight, the first such at or after `rotor` (then rotor moves past it),
// so ties rotate and every instance gets one of the first loads.size()
// requests whatever their timing. `loads` is not empty.
int PickLeastLoaded(absl::Span<const int> loads, int& rotor);

struct LlmInstance {
  std::string name;     // "fpga_0": the `instance` label of its metrics.
  std::string backend;  // The backend it runs on ("fpga", "cpu", ...).
  int device = -1;      // fpga: the XRT device index; else -1.
  std::unique_ptr<LlmEngine> engine;
};

class LlmInstances {
 public:
  // InvalidArgument without instances or with engines of different
  // models or contexts (a request must run the same on each).
  static absl::StatusOr<std::unique_ptr<LlmInstances>> Create(
      std::vector<LlmInstance> instances);

  // As LlmEngine's; the id names the instance too.
  absl::StatusOr<RequestId> Submit(LlmRequest request, LlmCallbacks callbacks);
  void Cancel(RequestId id, absl::Status reason = absl::CancelledError(
                                "the client cancelled the request"));
  // Drains every instance at once; cancelled requests in all.
  int Drain(absl::Duration timeout);
  // Counted in the first instance's metrics: the request reached none.
  void RecordRejected(const absl::Status& status);

  int in_flight() const;
  LlmStatistics statistics() const;  // Summed over the instances.
  // The first instance's (limits are the same on each).
  const backends::BackendCapabilities& capabilities() const;
  const LlmEngineOptions& options() const;
  int CountTokens(const std::string& text) const;
  const std::vector<LlmInstance>& instances() const { return instances_; }

 private:
  explicit LlmInstances(std::vector<LlmInstance> instances)
      : instances_(std::move(instances)) {}

  const std::vector<LlmInstance> instances_;
  absl::Mutex mu_;  // Serializes picks, so each sees the last one's load.
  int rotor_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fxserve::server::llm

#endif  // FXSERVE_SERVER_LLM_LLM_INSTANCES_H_
