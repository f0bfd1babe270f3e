#include "server/llm/llm_engine.h"

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/llm/utf8_stream.h"

namespace fxserve::server::llm {
namespace {

// Lower-case status code name, the `reason` label of failure counters.
std::string ReasonLabel(const absl::Status& status) {
  std::string name = absl::StatusCodeToString(status.code());
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return name;
}

absl::Status DeadlinePassed(int generated) {
  return absl::DeadlineExceededError(absl::StrCat(
      "the request's deadline passed after ", generated, " generated tokens"));
}

}  // namespace

absl::Status LlmEngineOptions::Validate() const {
  if (model_name.empty()) return absl::InvalidArgumentError("empty model name");
  if (default_max_tokens < 0) {
    return absl::InvalidArgumentError("default max tokens must be >= 0");
  }
  if (max_queue_size < 0) {
    return absl::InvalidArgumentError("max queue size must be >= 0");
  }
  if (priority_levels < 1) {
    return absl::InvalidArgumentError("priority levels must be >= 1");
  }
  if (default_priority < 0 || default_priority > priority_levels) {
    return absl::InvalidArgumentError(
        absl::StrCat("default priority ", default_priority, " is outside 0..",
                     priority_levels));
  }
  if (max_prefill_tokens_per_step < 1) {
    return absl::InvalidArgumentError(
        "max prefill tokens per step must be >= 1");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LlmEngine>> LlmEngine::Create(
    const LlmEngineOptions& options, std::unique_ptr<backends::Backend> backend,
    std::shared_ptr<const model::Gpt2Tokenizer> tokenizer,
    const LlmMetrics& metrics) {
  if (absl::Status s = options.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model ", options.model_name, ": ", s.message()));
  }
  if (backend == nullptr || tokenizer == nullptr) {
    return absl::InvalidArgumentError(
        "an engine needs a backend and tokenizer");
  }
  const backends::BackendCapabilities& caps = backend->capabilities();
  // Batch, cache and context come from the backend, queueing from the model.
  const SchedulerOptions scheduler_options{
      .max_batch = caps.max_batch,
      .max_prefill_tokens_per_step = options.max_prefill_tokens_per_step,
      .kv_block_tokens = caps.kv_block_tokens,
      .kv_blocks = caps.kv_blocks,
      .max_context = caps.max_context,
      .max_queue_size = options.max_queue_size,
      .priority_levels = options.priority_levels};
  if (absl::Status s = scheduler_options.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("model ", options.model_name,
                                                   ": backend ", caps.name,
                                                   ": ", s.message()));
  }
  return std::unique_ptr<LlmEngine>(
      new LlmEngine(options, scheduler_options, std::move(backend),
                    std::move(tokenizer), metrics));
}

LlmEngine::LlmEngine(const LlmEngineOptions& options,
                     const SchedulerOptions& scheduler_options,
                     std::unique_ptr<backends::Backend> backend,
                     std::shared_ptr<const model::Gpt2Tokenizer> tokenizer,
                     const LlmMetrics& metrics)
    : options_(options),
      backend_(std::move(backend)),
      capabilities_(backend_->capabilities()),
      tokenizer_(std::move(tokenizer)),
      metrics_(metrics),
      scheduler_(scheduler_options) {
  metrics_.kv_blocks_total->Set(capabilities_.kv_blocks);
  {
    absl::MutexLock lock(&mu_);
    UpdateGauges();
  }
  thread_ = std::thread([this] { Loop(); });
}

LlmEngine::~LlmEngine() {
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;
    stopping_ = true;
    for (auto& [id, state] : requests_) {
      if (!state.stop_reason) {
        state.stop_reason = absl::UnavailableError("the server is stopping");
      }
    }
  }
  thread_.join();
}

int LlmEngine::CountTokens(const std::string& text) const {
  return static_cast<int>(tokenizer_->Encode(text).size());
}

absl::StatusOr<RequestId> LlmEngine::Submit(LlmRequest request,
                                            LlmCallbacks callbacks) {
  absl::StatusOr<RequestId> id =
      Admit(std::move(request), std::move(callbacks));
  if (!id.ok()) RecordRejected(id.status());
  return id;
}

void LlmEngine::RecordRejected(const absl::Status& status) {
  metrics_.CountFailure(ReasonLabel(status));
}

absl::StatusOr<RequestId> LlmEngine::Admit(LlmRequest request,
                                           LlmCallbacks callbacks) {
  const absl::Time arrival = absl::Now();
  if (std::optional<size_t> bad = FindInvalidUtf8(request.prompt)) {
    return absl::InvalidArgumentError(
        absl::StrCat("text_input is not valid UTF-8 (byte ", *bad, " of ",
                     request.prompt.size(), ")"));
  }
  if (request.prompt.empty()) {
    return absl::InvalidArgumentError("text_input is empty; send a prompt");
  }
  if (absl::Status s = request.sampling.Validate(); !s.ok()) return s;
  std::vector<int> prompt = tokenizer_->Encode(request.prompt);
  const int prompt_tokens = static_cast<int>(prompt.size());
  const int room = capabilities_.max_context - prompt_tokens;
  if (room < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the prompt has ", prompt_tokens, " tokens but model ",
        options_.model_name, " holds ", capabilities_.max_context,
        " tokens of context, prompt and output together; shorten it"));
  }
  int max_new_tokens = std::min(options_.default_max_tokens, room);
  if (request.max_tokens.has_value()) {
    max_new_tokens = *request.max_tokens;
    if (max_new_tokens < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("max_tokens must be >= 0, got ", max_new_tokens));
    }
    if (max_new_tokens > room) {
      return absl::InvalidArgumentError(absl::StrCat(
          "max_tokens ", max_new_tokens, " does not fit: the prompt has ",
          prompt_tokens, " tokens and model ", options_.model_name, " holds ",
          capabilities_.max_context, " in all, so at most ", room,
          " can be generated"));
    }
  }
  int priority = request.priority;
  if (priority == 0) {
    priority = options_.default_priority == 0 ? options_.priority_levels
                                              : options_.default_priority;
  }
  if (priority < 1 || priority > options_.priority_levels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "priority ", request.priority, " is outside 1..",
        options_.priority_levels, " for model ", options_.model_name,
        " (1 is the highest; 0 means the default)"));
  }

  RequestState state;
  state.callbacks = std::move(callbacks);
  state.sampler = std::make_unique<model::Sampler>(request.sampling);
  state.prompt_tokens = prompt_tokens;
  state.max_new_tokens = max_new_tokens;
  state.deadline = request.deadline;
  state.arrival = arrival;
  absl::MutexLock lock(&mu_);
  if (draining_) {
    return absl::UnavailableError(
        "the server is shutting down and takes no new requests");
  }
  const RequestId id = next_id_++;
  if (absl::Status s =
          scheduler_.Enqueue(id, std::move(prompt), max_new_tokens, priority);
      !s.ok()) {
    return s;
  }
  requests_.emplace(id, std::move(state));
  UpdateQueueGauges();  // Not the KV gauges: the backend may be mid-step.
  return id;
}

void LlmEngine::Cancel(RequestId id, absl::Status reason) {
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  auto it = requests_.find(id);
  if (it == requests_.end() || it->second.stop_reason) return;
  RequestState& state = it->second;
  if (absl::IsCancelled(reason) && now >= state.deadline) {
    reason = DeadlinePassed(state.generated);
  }
  state.stop_reason = std::move(reason);
}

int LlmEngine::Drain(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  // Idle once every on_done has run, not only once requests are erased.
  const auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return requests_.empty() && undelivered_ == 0;
  };
  if (mu_.AwaitWithTimeout(absl::Condition(&idle), timeout)) return 0;
  int cancelled = 0;
  for (auto& [id, state] : requests_) {
    if (!state.stop_reason) {
      state.stop_reason = absl::UnavailableError(
          "the server shut down before the request finished");
      ++cancelled;
    }
  }
  mu_.Await(absl::Condition(&idle));
  return cancelled;
}

int LlmEngine::in_flight() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(requests_.size()) + undelivered_;
}

LlmStatistics LlmEngine::statistics() const {
  absl::MutexLock lock(&mu_);
  return statistics_;
}

void LlmEngine::RunEvents(std::vector<Event>& events) {
  int finished = 0;
  {
    absl::MutexLock lock(&mu_);
    finished = std::exchange(finished_unreported_, 0);
  }
  for (Event& event : events) event();
  events.clear();
  if (finished > 0) {
    absl::MutexLock lock(&mu_);
    undelivered_ -= finished;
  }
}

void LlmEngine::UpdateQueueGauges() {
  metrics_.pending_requests->Set(scheduler_.waiting());
  metrics_.running_requests->Set(scheduler_.running());
}

void LlmEngine::UpdateGauges(const StepPlan* plan) {
  UpdateQueueGauges();
  int used = capabilities_.kv_blocks - backend_->FreeKvBlocks();
  if (plan != nullptr) {
    const int block = capabilities_.kv_block_tokens;
    const auto blocks_for = [block](int tokens) {
      return (tokens + block - 1) / block;
    };
    for (const ScheduledChunk& chunk : plan->chunks) {
      const int length = backend_->SequenceLength(chunk.id);
      used += blocks_for(length + chunk.count) - blocks_for(length);
    }
  }
  metrics_.kv_blocks_used->Set(used);
  metrics_.kv_usage_ratio->Set(static_cast<double>(used) /
                               capabilities_.kv_blocks);
}

void LlmEngine::Finish(RequestId id, const absl::Status& status,
                       const std::string& finish_reason, absl::Time now,
                       std::vector<Event>& events) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  RequestState state = std::move(it->second);
  requests_.erase(it);
  ++undelivered_;  // Until its on_done has run (RunEvents).
  ++finished_unreported_;
  if (scheduler_.Remove(id)) backend_->FreeSequence(id);

  const uint64_t elapsed_ns =
      static_cast<uint64_t>(absl::ToInt64Nanoseconds(now - state.arrival));
  (status.ok() ? statistics_.success_count : statistics_.failure_count) += 1;
  (status.ok() ? statistics_.success_ns : statistics_.failure_ns) += elapsed_ns;
  statistics_.last_inference_ms =
      static_cast<uint64_t>(absl::ToUnixMillis(now));
  if (status.ok()) {
    metrics_.request_success->Increment();
    metrics_.request_duration->Observe(
        absl::ToDoubleSeconds(now - state.arrival));
    if (state.generated > 0) {
      metrics_.decode_duration->Observe(
          absl::ToDoubleSeconds(state.last_token - state.first_token));
    }
  } else {
    metrics_.CountFailure(ReasonLabel(status));
  }
  std::string tail = state.text.Finish();
  const LlmResult result{.prompt_tokens = state.prompt_tokens,
                         .generated_tokens = state.generated,
                         .finish_reason = status.ok() ? finish_reason : ""};
  LlmCallbacks callbacks = std::move(state.callbacks);
  events.push_back([callbacks = std::move(callbacks), status, result,
                    tail = std::move(tail)]() {
    if (status.ok() && !tail.empty()) callbacks.on_text(tail);
    callbacks.on_done(status, result);
  });
}

void LlmEngine::ExpireRequests(absl::Time now, std::vector<Event>& events) {
  std::vector<std::pair<RequestId, absl::Status>> ended;
  for (const auto& [id, state] : requests_) {
    if (state.stop_reason) {
      ended.push_back({id, *state.stop_reason});
    } else if (now >= state.deadline) {
      ended.push_back({id, DeadlinePassed(state.generated)});
    } else if (options_.queue_timeout > absl::ZeroDuration() &&
               scheduler_.IsWaiting(id) &&
               now - state.arrival >= options_.queue_timeout) {
      ended.push_back(
          {id, absl::DeadlineExceededError(absl::StrCat(
                   "the request waited in model ", options_.model_name,
                   "'s queue for its "
                   "queue timeout (",
                   absl::FormatDuration(options_.queue_timeout),
                   ") without starting"))});
    }
  }
  for (const auto& [id, status] : ended) Finish(id, status, "", now, events);
}

void LlmEngine::SampleNext(RequestId id, absl::Span<const int32_t> logits,
                           absl::Time now, std::vector<Event>& events) {
  RequestState& state = requests_.at(id);
  if (state.max_new_tokens == 0) {
    Finish(id, absl::OkStatus(), "length", now, events);
    return;
  }
  // Q(32,16) codes to float is exact for |code| < 2^24 and identical on
  // every machine, so sampling sees the same values whatever the backend.
  std::vector<float>& values = sample_buffer_;
  values.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    values[i] = static_cast<float>(logits[i]) *
                (1.0f / static_cast<float>(1 << backends::kLogitFracBits));
  }
  const int token = state.sampler->Sample(values);
  ++state.generated;
  metrics_.generated_tokens->Increment();
  if (state.generated == 1) {
    state.first_token = now;
    metrics_.time_to_first_token->Observe(
        absl::ToDoubleSeconds(now - state.arrival));
    metrics_.prefill_duration->Observe(
        absl::ToDoubleSeconds(now - state.admitted));
  } else {
    metrics_.inter_token_latency->Observe(
        absl::ToDoubleSeconds(now - state.last_token));
  }
  state.last_token = now;
  if (token == model::Gpt2Tokenizer::kEndOfText) {
    Finish(id, absl::OkStatus(), "stop", now, events);
    return;
  }
  scheduler_.AppendToken(id, token);
  const int token_array[1] = {token};
  absl::StatusOr<std::string> bytes = tokenizer_->Decode(token_array);
  if (!bytes.ok()) {
    Finish(id,
           absl::InternalError(absl::StrCat("the model produced token ", token,
                                            " that the tokenizer cannot "
                                            "decode: ",
                                            bytes.status().message())),
           "", now, events);
    return;
  }
  std::string piece = state.text.Push(*bytes);
  if (!piece.empty()) {
    events.push_back([on_text = state.callbacks.on_text,
                      piece = std::move(piece)]() { on_text(piece); });
  }
  if (state.generated >= state.max_new_tokens) {
    Finish(id, absl::OkStatus(), "length", now, events);
  }
}

void LlmEngine::Loop() {
  std::vector<std::vector<int>> chunk_tokens;
  std::vector<backends::SequenceInput> inputs;
  backends::StepOutput output;
  while (true) {
    std::vector<Event> events;
    StepPlan plan;
    {
      absl::MutexLock lock(&mu_);
      const auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !requests_.empty() || stopping_;
      };
      mu_.Await(absl::Condition(&has_work));
      if (stopping_ && requests_.empty()) return;
      const absl::Time now = absl::Now();
      ExpireRequests(now, events);
      plan = scheduler_.Schedule();
      for (RequestId id : plan.admitted) {
        RequestState& state = requests_.at(id);
        state.admitted = now;
        ++statistics_.queue_count;
        statistics_.queue_ns += static_cast<uint64_t>(
            absl::ToInt64Nanoseconds(now - state.arrival));
        metrics_.queue_duration->Observe(
            absl::ToDoubleSeconds(now - state.arrival));
      }
      // Copies, so Submit may run during the step without touching them.
      chunk_tokens.clear();
      for (const ScheduledChunk& chunk : plan.chunks) {
        const absl::Span<const int> tokens = scheduler_.Tokens(chunk.id);
        chunk_tokens.emplace_back(tokens.begin() + chunk.start,
                                  tokens.begin() + chunk.start + chunk.count);
      }
      UpdateGauges(&plan);
    }
    RunEvents(events);
    if (plan.empty()) continue;

    inputs.clear();
    for (size_t i = 0; i < plan.chunks.size(); ++i) {
      inputs.push_back({.id = plan.chunks[i].id, .tokens = chunk_tokens[i]});
    }
    const absl::Time step_start = absl::Now();
    const absl::Status step = backend_->Step(inputs, output);
    const absl::Time now = absl::Now();
    {
      absl::MutexLock lock(&mu_);
      metrics_.steps->Increment();
      metrics_.batch_size->Observe(static_cast<double>(plan.chunks.size()));
      metrics_.step_duration->Observe(absl::ToDoubleSeconds(now - step_start));
      ++statistics_.step_count;
      statistics_.step_ns +=
          static_cast<uint64_t>(absl::ToInt64Nanoseconds(now - step_start));
      if (!step.ok()) {
        // A failed step fails the requests in it, not the server.
        for (const ScheduledChunk& chunk : plan.chunks) {
          Finish(chunk.id,
                 absl::InternalError(
                     absl::StrCat("backend ", capabilities_.name,
                                  " failed a step: ", step.message())),
                 "", now, events);
        }
      } else {
        scheduler_.CommitStep(plan);
        metrics_.prompt_tokens->Increment(plan.prefill_tokens);
        for (size_t i = 0; i < plan.chunks.size(); ++i) {
          const ScheduledChunk& chunk = plan.chunks[i];
          if (!chunk.samples || !requests_.contains(chunk.id)) continue;
          if (requests_.at(chunk.id).stop_reason) continue;  // Ends next.
          SampleNext(chunk.id, output.logits[i], now, events);
        }
      }
      UpdateGauges();
    }
    RunEvents(events);
  }
}

}  // namespace fxserve::server::llm
