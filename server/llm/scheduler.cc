#include "server/llm/scheduler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace fxserve::server::llm {

absl::Status SchedulerOptions::Validate() const {
  if (max_batch < 1)
    return absl::InvalidArgumentError("max batch must be >= 1");
  if (max_prefill_tokens_per_step < 1) {
    return absl::InvalidArgumentError(
        "max prefill tokens per step must be >= 1");
  }
  if (kv_block_tokens < 1 || kv_blocks < 1) {
    return absl::InvalidArgumentError(
        "the KV cache needs at least one block of at least one token");
  }
  if (max_context < 2) {
    return absl::InvalidArgumentError("the model context must be >= 2 tokens");
  }
  if (max_queue_size < 0) {
    return absl::InvalidArgumentError("max queue size must be >= 0");
  }
  if (priority_levels < 1) {
    return absl::InvalidArgumentError("priority levels must be >= 1");
  }
  return absl::OkStatus();
}

Scheduler::Scheduler(const SchedulerOptions& options)
    : options_(options), waiting_(options.priority_levels) {}

int Scheduler::BlocksFor(const Sequence& sequence) const {
  const int positions = std::min(
      sequence.prompt_tokens + sequence.max_new_tokens, options_.max_context);
  return (positions + options_.kv_block_tokens - 1) / options_.kv_block_tokens;
}

absl::Status Scheduler::Enqueue(RequestId id, std::vector<int> prompt,
                                int max_new_tokens, int priority) {
  if (sequences_.contains(id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("request id ", id, " is already queued or running"));
  }
  if (prompt.empty()) {
    return absl::InvalidArgumentError("the prompt has no tokens");
  }
  if (priority < 1 || priority > options_.priority_levels) {
    return absl::InvalidArgumentError(
        absl::StrCat("priority ", priority, " is outside 1..",
                     options_.priority_levels, " (1 is the highest)"));
  }
  const int prompt_tokens = static_cast<int>(prompt.size());
  if (max_new_tokens < 0 ||
      prompt_tokens + max_new_tokens > options_.max_context) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the prompt has ", prompt_tokens, " tokens and ", max_new_tokens,
        " new tokens were asked for, but the model's context holds ",
        options_.max_context, " tokens"));
  }
  Sequence sequence{.tokens = std::move(prompt),
                    .prompt_tokens = prompt_tokens,
                    .max_new_tokens = max_new_tokens,
                    .priority = priority};
  sequence.reserved_blocks = BlocksFor(sequence);
  if (sequence.reserved_blocks > options_.kv_blocks) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the request needs ", sequence.reserved_blocks,
        " KV cache blocks but the whole cache has ", options_.kv_blocks,
        "; ask for fewer tokens or start the server with a larger "
        "--kv-cache-blocks"));
  }
  if (waiting() >= options_.max_queue_size) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the queue is full (", options_.max_queue_size,
                     " requests waiting); retry later"));
  }
  sequence.arrival = next_arrival_++;
  waiting_[priority - 1].push_back({id, sequence.arrival});
  ++waiting_count_;
  sequences_.emplace(id, std::move(sequence));
  return absl::OkStatus();
}

void Scheduler::AdmitWaiting(StepPlan& plan) {
  for (auto& queue : waiting_) {
    while (!queue.empty()) {
      if (static_cast<int>(running_.size()) >= options_.max_batch) return;
      const auto [id, arrival] = queue.front();
      auto it = sequences_.find(id);
      if (it == sequences_.end() || it->second.running ||
          it->second.arrival != arrival) {
        queue.pop_front();  // Removed while waiting (maybe re-queued since).
        continue;
      }
      Sequence& sequence = it->second;
      // Strict order: a request that does not fit waits at the head rather
      // than being overtaken forever by smaller ones.
      if (reserved_blocks_ + sequence.reserved_blocks > options_.kv_blocks) {
        return;
      }
      queue.pop_front();
      --waiting_count_;
      sequence.running = true;
      reserved_blocks_ += sequence.reserved_blocks;
      running_.insert(std::lower_bound(running_.begin(), running_.end(), id),
                      id);
      plan.admitted.push_back(id);
      // Admitted while slots and KV last; with the budget spent the prompt
      // starts next step, when PlanPrefill gives it its fair share.
      const int count =
          std::min(sequence.prompt_tokens,
                   options_.max_prefill_tokens_per_step - plan.prefill_tokens);
      if (count == 0) continue;
      plan.chunks.push_back({.id = id,
                             .start = 0,
                             .count = count,
                             .samples = count == sequence.prompt_tokens});
      plan.prefill_tokens += count;
    }
  }
}

void Scheduler::PlanPrefill(StepPlan& plan) {
  // Running sequences still in their prompt, oldest first.
  std::vector<std::pair<uint64_t, RequestId>> prefilling;
  for (RequestId id : running_) {
    const Sequence& sequence = sequences_.at(id);
    if (sequence.computed < sequence.prompt_tokens) {
      prefilling.push_back({sequence.arrival, id});
    }
  }
  if (prefilling.empty()) return;
  std::sort(prefilling.begin(), prefilling.end());
  // Fair split first (no prompt takes the whole budget while others wait),
  // then what is left goes oldest first.
  const int budget = options_.max_prefill_tokens_per_step;
  const int share = std::max(1, budget / static_cast<int>(prefilling.size()));
  std::map<RequestId, int> counts;
  int used = 0;
  for (const auto& [arrival, id] : prefilling) {
    const Sequence& sequence = sequences_.at(id);
    const int count = std::min(
        {sequence.prompt_tokens - sequence.computed, share, budget - used});
    counts[id] = count;
    used += count;
  }
  for (const auto& [arrival, id] : prefilling) {
    const Sequence& sequence = sequences_.at(id);
    const int more = std::min(
        sequence.prompt_tokens - sequence.computed - counts[id], budget - used);
    counts[id] += more;
    used += more;
  }
  for (const auto& [id, count] : counts) {
    if (count == 0) continue;
    const Sequence& sequence = sequences_.at(id);
    plan.chunks.push_back(
        {.id = id,
         .start = sequence.computed,
         .count = count,
         .samples = sequence.computed + count == sequence.prompt_tokens});
  }
  plan.prefill_tokens += used;
}

StepPlan Scheduler::Schedule() {
  StepPlan plan;
  for (RequestId id : running_) {
    const Sequence& sequence = sequences_.at(id);
    const int pending =
        static_cast<int>(sequence.tokens.size()) - sequence.computed;
    if (sequence.computed >= sequence.prompt_tokens && pending == 1) {
      plan.chunks.push_back(
          {.id = id, .start = sequence.computed, .count = 1, .samples = true});
      ++plan.decode_tokens;
    }
  }
  PlanPrefill(plan);
  AdmitWaiting(plan);
  std::sort(plan.chunks.begin(), plan.chunks.end(),
            [](const ScheduledChunk& a, const ScheduledChunk& b) {
              return a.id < b.id;
            });
  return plan;
}

void Scheduler::CommitStep(const StepPlan& plan) {
  for (const ScheduledChunk& chunk : plan.chunks) {
    auto it = sequences_.find(chunk.id);
    if (it == sequences_.end()) continue;
    it->second.computed = chunk.start + chunk.count;
  }
}

void Scheduler::AppendToken(RequestId id, int token) {
  auto it = sequences_.find(id);
  if (it != sequences_.end()) it->second.tokens.push_back(token);
}

bool Scheduler::Remove(RequestId id) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) return false;
  const bool was_running = it->second.running;
  if (was_running) {
    reserved_blocks_ -= it->second.reserved_blocks;
    running_.erase(std::lower_bound(running_.begin(), running_.end(), id));
  } else {
    --waiting_count_;  // Its stale queue entry is skipped later.
  }
  sequences_.erase(it);
  return was_running;
}

bool Scheduler::IsWaiting(RequestId id) const {
  auto it = sequences_.find(id);
  return it != sequences_.end() && !it->second.running;
}

bool Scheduler::IsRunning(RequestId id) const {
  auto it = sequences_.find(id);
  return it != sequences_.end() && it->second.running;
}

absl::Span<const int> Scheduler::Tokens(RequestId id) const {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) return {};
  return it->second.tokens;
}

int Scheduler::GeneratedTokens(RequestId id) const {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) return 0;
  return static_cast<int>(it->second.tokens.size()) - it->second.prompt_tokens;
}

std::vector<RequestId> Scheduler::WaitingIds() const {
  std::vector<RequestId> ids;
  for (const auto& [id, sequence] : sequences_) {
    if (!sequence.running) ids.push_back(id);
  }
  return ids;
}

}  // namespace fxserve::server::llm
