#include "server/llm/llm_instances.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"

namespace fxserve::server::llm {

int PickLeastLoaded(absl::Span<const int> loads, int& rotor) {
  const int n = static_cast<int>(loads.size());
  int best = -1;
  for (int k = 0; k < n; ++k) {
    const int i = (rotor + k) % n;
    if (best < 0 || loads[i] < loads[best]) best = i;
  }
  rotor = (best + 1) % n;
  return best;
}

absl::StatusOr<std::unique_ptr<LlmInstances>> LlmInstances::Create(
    std::vector<LlmInstance> instances) {
  if (instances.empty()) {
    return absl::InvalidArgumentError("a model needs at least one instance");
  }
  for (const LlmInstance& instance : instances) {
    if (instance.engine == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("instance ", instance.name, " has no engine"));
    }
  }
  const LlmEngine& first = *instances.front().engine;
  for (const LlmInstance& instance : instances) {
    const LlmEngine& engine = *instance.engine;
    if (engine.options().model_name != first.options().model_name ||
        engine.capabilities().max_context != first.capabilities().max_context) {
      return absl::InvalidArgumentError(absl::StrCat(
          "instance ", instance.name, " serves ", engine.options().model_name,
          " with context ", engine.capabilities().max_context, ", instance ",
          instances.front().name, " serves ", first.options().model_name,
          " with context ", first.capabilities().max_context));
    }
  }
  return std::unique_ptr<LlmInstances>(new LlmInstances(std::move(instances)));
}

// Ids: engine id * instances + instance index, so Cancel finds the engine
// without a table (engine ids start at 1, so no id is 0).
absl::StatusOr<RequestId> LlmInstances::Submit(LlmRequest request,
                                               LlmCallbacks callbacks) {
  const RequestId n = instances_.size();
  absl::MutexLock lock(&mu_);
  std::vector<int> loads;
  loads.reserve(n);
  for (const LlmInstance& instance : instances_) {
    loads.push_back(instance.engine->in_flight());
  }
  const int index = PickLeastLoaded(loads, rotor_);
  absl::StatusOr<RequestId> id = instances_[index].engine->Submit(
      std::move(request), std::move(callbacks));
  if (!id.ok()) return id.status();
  return *id * n + index;
}

void LlmInstances::Cancel(RequestId id, absl::Status reason) {
  const RequestId n = instances_.size();
  instances_[id % n].engine->Cancel(id / n, std::move(reason));
}

int LlmInstances::Drain(absl::Duration timeout) {
  if (instances_.size() == 1) return instances_[0].engine->Drain(timeout);
  std::vector<int> cancelled(instances_.size(), 0);
  std::vector<std::thread> drains;
  for (size_t i = 0; i < instances_.size(); ++i) {
    drains.emplace_back([this, i, timeout, &cancelled] {
      cancelled[i] = instances_[i].engine->Drain(timeout);
    });
  }
  for (std::thread& drain : drains) drain.join();
  int total = 0;
  for (int c : cancelled) total += c;
  return total;
}

void LlmInstances::RecordRejected(const absl::Status& status) {
  instances_.front().engine->RecordRejected(status);
}

int LlmInstances::in_flight() const {
  int total = 0;
  for (const LlmInstance& instance : instances_) {
    total += instance.engine->in_flight();
  }
  return total;
}

LlmStatistics LlmInstances::statistics() const {
  LlmStatistics sum;
  for (const LlmInstance& instance : instances_) {
    const LlmStatistics s = instance.engine->statistics();
    sum.success_count += s.success_count;
    sum.success_ns += s.success_ns;
    sum.failure_count += s.failure_count;
    sum.failure_ns += s.failure_ns;
    sum.queue_count += s.queue_count;
    sum.queue_ns += s.queue_ns;
    sum.step_count += s.step_count;
    sum.step_ns += s.step_ns;
    sum.last_inference_ms =
        std::max(sum.last_inference_ms, s.last_inference_ms);
  }
  return sum;
}

const backends::BackendCapabilities& LlmInstances::capabilities() const {
  return instances_.front().engine->capabilities();
}

const LlmEngineOptions& LlmInstances::options() const {
  return instances_.front().engine->options();
}

int LlmInstances::CountTokens(const std::string& text) const {
  return instances_.front().engine->CountTokens(text);
}

}  // namespace fxserve::server::llm
