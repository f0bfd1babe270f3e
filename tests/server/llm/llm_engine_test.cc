// LlmEngine with the real CPU backend on the build's tiny GPT-2 artifact:
// generated text against a direct backend loop, batching invariance,
// request validation, cancellation, deadlines, the queue, draining,
// callback guarantees and metrics.
//
// Tests that need the engine in a known state stop it with a "gate": a
// request whose on_done (on the engine thread) blocks until the test opens
// it, so what is queued meanwhile is scheduled together afterwards.
#include "server/llm/llm_engine.h"

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "backends/backend.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/sampler.h"
#include "server/llm/llm_metrics.h"
#include "server/llm/utf8_stream.h"
#include "server/metrics/metrics.h"
#include "tests/server/llm/tiny_model.h"

namespace fxserve::server::llm {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;

#ifdef FXSERVE_SANITIZED
constexpr int kTokens = 6;  // Generated tokens per request in long tests.
#else
constexpr int kTokens = 24;
#endif
// Generous: only reached when something is broken.
constexpr absl::Duration kTimeout = absl::Seconds(120);

model::SamplingOptions Greedy() {
  model::SamplingOptions s;
  s.temperature = 0;
  return s;
}

model::SamplingOptions Sampled(uint64_t seed) {
  model::SamplingOptions s;
  s.temperature = 0.9f;
  s.top_k = 40;
  s.top_p = 0.95f;
  s.seed = seed;
  return s;
}

LlmRequest Request(const std::string& prompt, std::optional<int> max_tokens,
                   const model::SamplingOptions& sampling = Greedy()) {
  LlmRequest r;
  r.prompt = prompt;
  r.max_tokens = max_tokens;
  r.sampling = sampling;
  return r;
}

// What one request's callbacks saw.
class Outcome {
 public:
  // Hooks run on the engine thread: after the first on_text piece, and
  // inside on_done (before `done` is notified).
  std::function<void()> on_first_text;
  std::function<void()> on_done_hook;

  LlmCallbacks Callbacks() {
    return LlmCallbacks{
        .on_text =
            [this](std::string text) {
              bool first;
              {
                absl::MutexLock lock(&mu_);
                if (done_calls_ > 0) ++text_after_done_;
                first = pieces_.empty();
                pieces_.push_back(std::move(text));
              }
              if (first && on_first_text) on_first_text();
            },
        .on_done =
            [this](const absl::Status& status, const LlmResult& result) {
              {
                absl::MutexLock lock(&mu_);
                ++done_calls_;
                status_ = status;
                result_ = result;
              }
              if (on_done_hook) on_done_hook();
              if (!done_.HasBeenNotified()) done_.Notify();
            }};
  }

  bool WaitDone() { return done_.WaitForNotificationWithTimeout(kTimeout); }
  bool IsDone() const { return done_.HasBeenNotified(); }

  absl::Status status() const {
    absl::MutexLock lock(&mu_);
    return status_;
  }
  LlmResult result() const {
    absl::MutexLock lock(&mu_);
    return result_;
  }
  std::string text() const {
    absl::MutexLock lock(&mu_);
    std::string all;
    for (const std::string& p : pieces_) all += p;
    return all;
  }
  int pieces() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(pieces_.size());
  }

  // The callback contract: non-empty valid UTF-8 pieces, exactly one
  // on_done and nothing after it.
  void ExpectWellFormed() const {
    absl::MutexLock lock(&mu_);
    EXPECT_EQ(done_calls_, 1);
    EXPECT_EQ(text_after_done_, 0);
    for (const std::string& p : pieces_) {
      EXPECT_FALSE(p.empty());
      EXPECT_EQ(FindInvalidUtf8(p), std::nullopt) << p;
    }
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> pieces_ ABSL_GUARDED_BY(mu_);
  int done_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int text_after_done_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  LlmResult result_ ABSL_GUARDED_BY(mu_);
  absl::Notification done_;
};

// An engine with its own metrics registry. Declare Outcomes and Gates
// before it: the engine (destroyed first) calls into them.
struct Harness {
  MetricsRegistry registry;
  LlmMetricFamilies families{registry};
  LlmMetrics metrics;
  std::unique_ptr<LlmEngine> engine;

  double Failures(const std::string& reason) const {
    return metrics.request_failure->With({"tiny", "cpu", "cpu_0", reason})
        .value();
  }
};

LlmEngineOptions EngineOptions() {
  LlmEngineOptions o;
  o.model_name = "tiny";
  return o;
}

std::unique_ptr<backends::Backend> CpuBackend(int max_batch) {
  absl::StatusOr<std::unique_ptr<backends::Backend>> backend =
      backends::CreateBackend("cpu", Model(),
                              {.threads = 1, .max_batch = max_batch});
  EXPECT_TRUE(backend.ok()) << backend.status();
  return backend.ok() ? *std::move(backend) : nullptr;
}

std::unique_ptr<Harness> StartWith(std::unique_ptr<backends::Backend> backend,
                                   const LlmEngineOptions& options) {
  if (backend == nullptr) return nullptr;
  auto h = std::make_unique<Harness>();
  h->metrics = h->families.ForInstance(options.model_name, "cpu", "cpu_0");
  absl::StatusOr<std::unique_ptr<LlmEngine>> engine =
      LlmEngine::Create(options, std::move(backend), Tokenizer(), h->metrics);
  EXPECT_TRUE(engine.ok()) << engine.status();
  if (!engine.ok()) return nullptr;
  h->engine = *std::move(engine);
  return h;
}

std::unique_ptr<Harness> Start(
    const LlmEngineOptions& options = EngineOptions(), int max_batch = 8) {
  return StartWith(CpuBackend(max_batch), options);
}

// A real backend whose steps can be held: while paused, a step that starts
// waits inside Step until Resume(). A test then acts on a request that is
// certainly mid-step, however fast or slow the machine (a step of the
// C-simulation under ASan takes half a minute on a slow machine).
class PausableBackend : public backends::Backend {
 public:
  explicit PausableBackend(std::unique_ptr<backends::Backend> inner)
      : inner_(std::move(inner)) {}

  void Pause() {
    absl::MutexLock lock(&mu_);
    paused_ = true;
  }
  void Resume() {
    absl::MutexLock lock(&mu_);
    paused_ = false;
  }
  bool holding() {
    absl::MutexLock lock(&mu_);
    return held_;
  }
  // Waits until a step is held inside Step; false after kTimeout.
  bool AwaitHeldStep() {
    absl::MutexLock lock(&mu_);
    const auto held = [this]()
                          ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return held_; };
    return mu_.AwaitWithTimeout(absl::Condition(&held), kTimeout);
  }

  const backends::BackendCapabilities& capabilities() const override {
    return inner_->capabilities();
  }
  const model::Gpt2Config& config() const override { return inner_->config(); }
  int FreeKvBlocks() const override { return inner_->FreeKvBlocks(); }
  int SequenceLength(backends::SequenceId id) const override {
    return inner_->SequenceLength(id);
  }
  absl::Status Step(absl::Span<const backends::SequenceInput> inputs,
                    backends::StepOutput& output) override {
    {
      absl::MutexLock lock(&mu_);
      held_ = paused_;
      const auto resumed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !paused_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&resumed), kTimeout);
      held_ = false;
    }
    return inner_->Step(inputs, output);
  }
  void FreeSequence(backends::SequenceId id) override {
    inner_->FreeSequence(id);
  }

 private:
  const std::unique_ptr<backends::Backend> inner_;
  absl::Mutex mu_;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
};

// An engine on a PausableBackend (owned by the engine; `pausable` borrows).
struct PausableHarness {
  std::unique_ptr<Harness> h;
  PausableBackend* pausable = nullptr;
};

PausableHarness StartPausable() {
  auto backend = std::make_unique<PausableBackend>(CpuBackend(8));
  PausableBackend* pausable = backend.get();
  return {StartWith(std::move(backend), EngineOptions()), pausable};
}

// Holds the engine thread inside a finished request's on_done until Open().
class Gate {
 public:
  // Submits the gate request and waits until the engine thread is held.
  void Close(LlmEngine& engine) {
    outcome_.on_done_hook = [this] {
      held_.Notify();
      open_.WaitForNotificationWithTimeout(kTimeout);
    };
    absl::StatusOr<RequestId> id =
        engine.Submit(Request("Gate", 0), outcome_.Callbacks());
    ASSERT_TRUE(id.ok()) << id.status();
    ASSERT_TRUE(held_.WaitForNotificationWithTimeout(kTimeout));
  }
  void Open() {
    if (!open_.HasBeenNotified()) open_.Notify();
  }
  ~Gate() { Open(); }

 private:
  Outcome outcome_;
  absl::Notification held_, open_;
};

// The text the engine must produce: the backend run directly, one
// sequence, whole prompt in one step, the same sampler and UTF-8 stream.
struct Reference {
  std::string text;
  int prompt_tokens = 0;
  int generated = 0;
  std::string finish_reason;
};

Reference Generate(const std::string& prompt, int max_tokens,
                   const model::SamplingOptions& sampling) {
  Reference ref;
  absl::StatusOr<std::unique_ptr<backends::Backend>> backend =
      backends::CreateBackend("cpu", Model(), {.threads = 1, .max_batch = 1});
  EXPECT_TRUE(backend.ok()) << backend.status();
  if (!backend.ok()) return ref;
  std::vector<int> input = Tokenizer()->Encode(prompt);
  ref.prompt_tokens = static_cast<int>(input.size());
  ref.finish_reason = "length";
  if (max_tokens == 0) return ref;
  model::Sampler sampler(sampling);
  Utf8Stream stream;
  backends::StepOutput output;
  while (true) {
    const backends::SequenceInput step{.id = 1, .tokens = input};
    const absl::Status status = (*backend)->Step({&step, 1}, output);
    EXPECT_TRUE(status.ok()) << status;
    if (!status.ok()) return ref;
    std::vector<float> values(output.logits[0].size());
    for (size_t i = 0; i < values.size(); ++i) {
      values[i] = static_cast<float>(output.logits[0][i]) *
                  (1.0f / static_cast<float>(1 << backends::kLogitFracBits));
    }
    const int token = sampler.Sample(values);
    ++ref.generated;
    if (token == model::Gpt2Tokenizer::kEndOfText) {
      ref.finish_reason = "stop";
      break;
    }
    const int ids[1] = {token};
    ref.text += stream.Push(*Tokenizer()->Decode(ids));
    if (ref.generated >= max_tokens) break;
    input = {token};
  }
  ref.text += stream.Finish();
  return ref;
}

const std::vector<std::string>& Prompts() {
  static const std::vector<std::string> prompts = {
      "The quick brown fox",
      "You will meet a tall dark stranger",
      "A journey of a thousand miles begins",
      "Q: Why did the chicken cross the road?\nA:",
      "Never trust a computer you can't throw out a window.",
      "It is a truth universally acknowledged that",
      "Today is a good day to",
      "Everything you know is wrong, but"};
  return prompts;
}

// A prompt whose greedy continuation runs well past a few tokens without
// ending, for tests that act on a running request.
constexpr char kLongRunningPrompt[] = "The quick brown fox";

TEST(LlmEngineCreate, RejectsBadOptions) {
  MetricsRegistry registry;
  LlmMetricFamilies families(registry);
  LlmMetrics metrics = families.ForInstance("tiny", "cpu", "cpu_0");
  const auto backend = [] {
    return *backends::CreateBackend("cpu", Model(),
                                    {.threads = 1, .max_batch = 2});
  };
  LlmEngineOptions options = EngineOptions();
  options.model_name = "";
  EXPECT_EQ(LlmEngine::Create(options, backend(), Tokenizer(), metrics)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  options = EngineOptions();
  options.default_priority = 2;  // One level only.
  EXPECT_EQ(LlmEngine::Create(options, backend(), Tokenizer(), metrics)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  options = EngineOptions();
  options.max_prefill_tokens_per_step = 0;
  EXPECT_EQ(LlmEngine::Create(options, backend(), Tokenizer(), metrics)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LlmEngine::Create(EngineOptions(), nullptr, Tokenizer(), metrics)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LlmEngine::Create(EngineOptions(), backend(), nullptr, metrics)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(LlmEngine, ReportsCapabilitiesAndCountsTokens) {
  auto h = Start();
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->engine->capabilities().name, "cpu");
  EXPECT_EQ(h->engine->capabilities().max_batch, 8);
  EXPECT_EQ(h->engine->capabilities().max_context, 256);
  EXPECT_EQ(h->engine->CountTokens("Hello world"),
            static_cast<int>(Tokenizer()->Encode("Hello world").size()));
  EXPECT_EQ(h->engine->in_flight(), 0);
  EXPECT_EQ(h->metrics.kv_blocks_total->value(),
            h->engine->capabilities().kv_blocks);
}

// The engine's text, token counts and finish reason equal a direct backend
// loop's, with the prompt cut into 3-token prefill chunks.
TEST(LlmEngine, GenerationMatchesDirectBackendLoopWithChunkedPrefill) {
  const std::vector<std::pair<std::string, model::SamplingOptions>> cases = {
      {Prompts()[1], Greedy()},
      {Prompts()[3], Sampled(7)},
      {Prompts()[4], Sampled(12345)}};
  std::vector<Reference> expected;
  for (const auto& [prompt, sampling] : cases) {
    expected.push_back(Generate(prompt, kTokens, sampling));
  }
  std::vector<Outcome> outcomes(cases.size());
  LlmEngineOptions options = EngineOptions();
  options.max_prefill_tokens_per_step = 3;
  auto h = Start(options);
  ASSERT_NE(h, nullptr);
  for (size_t i = 0; i < cases.size(); ++i) {
    ASSERT_TRUE(h->engine
                    ->Submit(Request(cases[i].first, kTokens, cases[i].second),
                             outcomes[i].Callbacks())
                    .ok());
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].first);
    ASSERT_TRUE(outcomes[i].WaitDone());
    EXPECT_TRUE(outcomes[i].status().ok()) << outcomes[i].status();
    EXPECT_EQ(outcomes[i].text(), expected[i].text);
    const LlmResult result = outcomes[i].result();
    EXPECT_EQ(result.prompt_tokens, expected[i].prompt_tokens);
    EXPECT_GT(result.prompt_tokens, 3);  // The prompt was chunked.
    EXPECT_EQ(result.generated_tokens, expected[i].generated);
    EXPECT_EQ(result.finish_reason, expected[i].finish_reason);
  }
  h.reset();
  for (const Outcome& o : outcomes) o.ExpectWellFormed();
}

// Runs each prompt alone, then all of them at once in one batch (the gate
// holds the engine while they are queued), and compares the texts.
void ExpectBatchingInvariance(
    const std::function<model::SamplingOptions(int)>& sampling) {
  const int n = static_cast<int>(Prompts().size());
  std::vector<Outcome> alone(n), batched(n);
  Gate gate;
  auto h = Start();
  ASSERT_NE(h, nullptr);
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(h->engine
                    ->Submit(Request(Prompts()[i], kTokens, sampling(i)),
                             alone[i].Callbacks())
                    .ok());
    ASSERT_TRUE(alone[i].WaitDone());
    ASSERT_TRUE(alone[i].status().ok()) << alone[i].status();
  }
  const double steps_alone = h->metrics.steps->value();

  gate.Close(*h->engine);
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(h->engine
                    ->Submit(Request(Prompts()[i], kTokens, sampling(i)),
                             batched[i].Callbacks())
                    .ok());
  }
  EXPECT_EQ(h->metrics.pending_requests->value(), n);
  gate.Open();
  for (int i = 0; i < n; ++i) {
    SCOPED_TRACE(Prompts()[i]);
    ASSERT_TRUE(batched[i].WaitDone());
    EXPECT_TRUE(batched[i].status().ok()) << batched[i].status();
    EXPECT_EQ(batched[i].text(), alone[i].text());
    EXPECT_EQ(batched[i].result().generated_tokens,
              alone[i].result().generated_tokens);
    EXPECT_EQ(batched[i].result().finish_reason,
              alone[i].result().finish_reason);
  }
  // They did run together: far fewer steps than one after the other.
  const double steps_batched = h->metrics.steps->value() - steps_alone - 1;
  EXPECT_LT(steps_batched, steps_alone / 2);
  h.reset();
  for (int i = 0; i < n; ++i) {
    alone[i].ExpectWellFormed();
    batched[i].ExpectWellFormed();
  }
}

TEST(LlmEngine, GreedyBatchOfEightMatchesEachRequestAlone) {
  ExpectBatchingInvariance([](int i) {
    model::SamplingOptions s = Greedy();
    s.seed = 1000 + i;  // Ignored by greedy decoding.
    return s;
  });
}

TEST(LlmEngine, SeededSamplingBatchOfEightMatchesEachRequestAlone) {
  ExpectBatchingInvariance([](int i) { return Sampled(31 * i + 5); });
}

TEST(LlmEngine, MaxTokensZeroGivesEmptyTextAndLength) {
  Outcome o;
  auto h = Start();
  ASSERT_NE(h, nullptr);
  ASSERT_TRUE(h->engine->Submit(Request("Hello there", 0), o.Callbacks()).ok());
  ASSERT_TRUE(o.WaitDone());
  EXPECT_TRUE(o.status().ok()) << o.status();
  EXPECT_EQ(o.text(), "");
  EXPECT_EQ(o.pieces(), 0);
  EXPECT_EQ(o.result().generated_tokens, 0);
  EXPECT_EQ(o.result().prompt_tokens,
            static_cast<int>(Tokenizer()->Encode("Hello there").size()));
  EXPECT_EQ(o.result().finish_reason, "length");
  h.reset();
  o.ExpectWellFormed();
}

TEST(LlmEngine, MaxTokensMustFitTheContext) {
  Outcome fits;
  auto h = Start();
  ASSERT_NE(h, nullptr);
  const std::string prompt = "Hello there";
  const int room = 256 - h->engine->CountTokens(prompt);
  absl::StatusOr<RequestId> id =
      h->engine->Submit(Request(prompt, room + 1), LlmCallbacks{});
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(id.status().message()), HasSubstr("max_tokens"));
  EXPECT_THAT(std::string(id.status().message()),
              HasSubstr(absl::StrCat("at most ", room)));

  id = h->engine->Submit(Request(prompt, -1), LlmCallbacks{});
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);

  // Exactly the room left is accepted (then cancelled: only the check
  // matters here).
  id = h->engine->Submit(Request(prompt, room), fits.Callbacks());
  ASSERT_TRUE(id.ok()) << id.status();
  h->engine->Cancel(*id);
  ASSERT_TRUE(fits.WaitDone());
  EXPECT_THAT(fits.status().code(),
              AnyOf(absl::StatusCode::kOk, absl::StatusCode::kCancelled));
  h.reset();
  fits.ExpectWellFormed();
}

TEST(LlmEngine, PromptTooLongIsInvalidArgument) {
  auto h = Start();
  ASSERT_NE(h, nullptr);
  std::string prompt;
  while (h->engine->CountTokens(prompt) < 256) prompt += " word";
  ASSERT_EQ(h->engine->CountTokens(prompt), 256);  // No room to generate.
  absl::StatusOr<RequestId> id =
      h->engine->Submit(Request(prompt, std::nullopt), LlmCallbacks{});
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(id.status().message()), HasSubstr("256 tokens"));
  prompt += " word word word";
  EXPECT_EQ(
      h->engine->Submit(Request(prompt, 1), LlmCallbacks{}).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(h->engine->in_flight(), 0);
}

TEST(LlmEngine, DefaultMaxTokensIsCappedByTheContext) {
  Outcome o;
  LlmEngineOptions options = EngineOptions();
  options.default_max_tokens = 64;
  auto h = Start(options);
  ASSERT_NE(h, nullptr);
  std::string prompt;
  while (h->engine->CountTokens(prompt) < 254) prompt += " word";
  ASSERT_EQ(h->engine->CountTokens(prompt), 254);
  ASSERT_TRUE(
      h->engine->Submit(Request(prompt, std::nullopt), o.Callbacks()).ok());
  ASSERT_TRUE(o.WaitDone());
  ASSERT_TRUE(o.status().ok()) << o.status();
  EXPECT_LE(o.result().generated_tokens, 2);
  const Reference ref = Generate(prompt, 2, Greedy());
  EXPECT_EQ(o.result().generated_tokens, ref.generated);
  EXPECT_EQ(o.text(), ref.text);
}

TEST(LlmEngine, InvalidRequestsAreRejectedAtSubmit) {
  auto h = Start();
  ASSERT_NE(h, nullptr);
  absl::StatusOr<RequestId> id =
      h->engine->Submit(Request("ab\xC3(cd", 4), LlmCallbacks{});
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(id.status().message()), HasSubstr("UTF-8"));
  EXPECT_THAT(std::string(id.status().message()), HasSubstr("byte 2"));

  id = h->engine->Submit(Request("", 4), LlmCallbacks{});
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);

  model::SamplingOptions bad = Greedy();
  bad.top_p = 0;
  id = h->engine->Submit(Request("hi", 4, bad), LlmCallbacks{});
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(id.status().message()), HasSubstr("top_p"));
  bad = Greedy();
  bad.temperature = -1;
  id = h->engine->Submit(Request("hi", 4, bad), LlmCallbacks{});
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);

  LlmRequest priority = Request("hi", 4);
  priority.priority = 2;  // One level only.
  id = h->engine->Submit(priority, LlmCallbacks{});
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(id.status().message()), HasSubstr("priority 2"));
  EXPECT_EQ(h->engine->in_flight(), 0);
  EXPECT_EQ(h->metrics.pending_requests->value(), 0);
  // Every refusal counts as a failure by reason; none was a success.
  EXPECT_EQ(h->Failures("invalid_argument"), 5);
  EXPECT_EQ(h->metrics.request_success->value(), 0);
  // Refusals found before Submit (by the protocol layer) count the same.
  h->engine->RecordRejected(absl::InvalidArgumentError("unknown input"));
  EXPECT_EQ(h->Failures("invalid_argument"), 6);
}

TEST(LlmEngine, CancelRunningRequestFreesItsKvBlocks) {
  ASSERT_GT(Generate(kLongRunningPrompt, 8, Greedy()).generated, 4);
  Outcome o;
  absl::Notification id_known;
  std::atomic<RequestId> id{0};
  double kv_used_at_first_text = -1;
  auto h = Start();
  ASSERT_NE(h, nullptr);
  // Cancels from the first piece's callback: the request is certainly
  // running and has KV blocks then.
  o.on_first_text = [&] {
    id_known.WaitForNotificationWithTimeout(kTimeout);
    kv_used_at_first_text = h->metrics.kv_blocks_used->value();
    h->engine->Cancel(id.load());
  };
  absl::StatusOr<RequestId> submitted =
      h->engine->Submit(Request(kLongRunningPrompt, 200), o.Callbacks());
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  id = *submitted;
  id_known.Notify();
  ASSERT_TRUE(o.WaitDone());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kCancelled) << o.status();
  EXPECT_GT(kv_used_at_first_text, 0);
  EXPECT_GE(o.result().generated_tokens, 1);
  EXPECT_LT(o.result().generated_tokens, 200);
  EXPECT_EQ(o.result().finish_reason, "");
  EXPECT_EQ(h->metrics.kv_blocks_used->value(), 0);
  EXPECT_EQ(h->metrics.kv_usage_ratio->value(), 0);
  EXPECT_EQ(h->metrics.running_requests->value(), 0);
  EXPECT_EQ(h->Failures("cancelled"), 1);
  EXPECT_EQ(h->metrics.request_success->value(), 0);
  // in_flight() counts a request until its on_done has returned, which is
  // just after WaitDone wakes; Drain waits for that.
  EXPECT_EQ(h->engine->Drain(kTimeout), 0);
  EXPECT_EQ(h->engine->in_flight(), 0);
  // Cancelling again, or an unknown id, does nothing.
  h->engine->Cancel(id.load());
  h->engine->Cancel(987654);
  h.reset();
  o.ExpectWellFormed();
}

TEST(LlmEngine, CancelWaitingRequest) {
  Outcome o;
  Gate gate;
  auto h = Start();
  ASSERT_NE(h, nullptr);
  gate.Close(*h->engine);
  absl::StatusOr<RequestId> id =
      h->engine->Submit(Request("Hello", 10), o.Callbacks());
  ASSERT_TRUE(id.ok());
  h->engine->Cancel(*id, absl::AbortedError("changed my mind"));
  gate.Open();
  ASSERT_TRUE(o.WaitDone());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(o.status().message(), "changed my mind");
  EXPECT_EQ(o.result().generated_tokens, 0);
  EXPECT_EQ(o.pieces(), 0);
  EXPECT_EQ(h->Failures("aborted"), 1);
  h.reset();
  o.ExpectWellFormed();
}

TEST(LlmEngine, DeadlinePassingWhileRunning) {
  ASSERT_GT(Generate(kLongRunningPrompt, 8, Greedy()).generated, 4);
  Outcome o;
  LlmRequest request = Request(kLongRunningPrompt, 200);
  request.deadline = absl::Now() + absl::Milliseconds(1);
  // Make sure the deadline has passed before the next step boundary.
  o.on_first_text = [deadline = request.deadline] {
    while (absl::Now() <= deadline) absl::SleepFor(absl::Milliseconds(1));
  };
  auto h = Start();
  ASSERT_NE(h, nullptr);
  ASSERT_TRUE(h->engine->Submit(request, o.Callbacks()).ok());
  ASSERT_TRUE(o.WaitDone());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kDeadlineExceeded)
      << o.status();
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("deadline"));
  EXPECT_LT(o.result().generated_tokens, 200);
  EXPECT_EQ(h->Failures("deadline_exceeded"), 1);
  EXPECT_EQ(h->metrics.kv_blocks_used->value(), 0);
  h.reset();
  o.ExpectWellFormed();
}

TEST(LlmEngine, DeadlinePassedBeforeAdmission) {
  Outcome o;
  auto h = Start();
  ASSERT_NE(h, nullptr);
  LlmRequest request = Request("Hello", 10);
  request.deadline = absl::Now() - absl::Seconds(1);
  ASSERT_TRUE(h->engine->Submit(request, o.Callbacks()).ok());
  ASSERT_TRUE(o.WaitDone());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(o.result().generated_tokens, 0);
  EXPECT_EQ(o.pieces(), 0);
  h.reset();
  o.ExpectWellFormed();
}

TEST(LlmEngine, QueueTimeoutEndsAWaitingRequest) {
  Outcome o;
  Gate gate;
  LlmEngineOptions options = EngineOptions();
  options.queue_timeout = absl::Milliseconds(1);
  auto h = Start(options);
  ASSERT_NE(h, nullptr);
  gate.Close(*h->engine);
  ASSERT_TRUE(h->engine->Submit(Request("Hello", 10), o.Callbacks()).ok());
  const absl::Time submitted = absl::Now();
  // Keep it queued past its queue timeout.
  while (absl::Now() - submitted <= absl::Milliseconds(2)) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  gate.Open();
  ASSERT_TRUE(o.WaitDone());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("queue timeout"));
  EXPECT_EQ(o.result().generated_tokens, 0);
  h.reset();
  o.ExpectWellFormed();
}

TEST(LlmEngine, FullQueueIsResourceExhausted) {
  Outcome first;
  Gate gate;
  LlmEngineOptions options = EngineOptions();
  options.max_queue_size = 1;
  auto h = Start(options);
  ASSERT_NE(h, nullptr);
  gate.Close(*h->engine);
  ASSERT_TRUE(h->engine->Submit(Request("Hello", 3), first.Callbacks()).ok());
  bool called = false;
  absl::StatusOr<RequestId> second = h->engine->Submit(
      Request("Hello", 3),
      LlmCallbacks{.on_text = [&](std::string) { called = true; },
                   .on_done = [&](const absl::Status&,
                                  const LlmResult&) { called = true; }});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(h->Failures("resource_exhausted"), 1);
  // The gate's request (its on_done is holding the engine) and `first`.
  EXPECT_EQ(h->engine->in_flight(), 2);
  gate.Open();
  ASSERT_TRUE(first.WaitDone());
  EXPECT_TRUE(first.status().ok()) << first.status();
  // With the queue empty again, requests are accepted.
  Outcome third;
  ASSERT_TRUE(h->engine->Submit(Request("Hello", 3), third.Callbacks()).ok());
  ASSERT_TRUE(third.WaitDone());
  h.reset();
  EXPECT_FALSE(called);
  first.ExpectWellFormed();
  third.ExpectWellFormed();
}

TEST(LlmEngine, PriorityOneRunsBeforeTheDefaultLevel) {
  std::vector<Outcome> outcomes(3);
  absl::Mutex mu;
  std::vector<int> finished;
  Gate gate;
  LlmEngineOptions options = EngineOptions();
  options.priority_levels = 2;  // Default priority 0: the lowest, 2.
  auto h = Start(options, /*max_batch=*/1);
  ASSERT_NE(h, nullptr);
  for (int i = 0; i < 3; ++i) {
    outcomes[i].on_done_hook = [&, i] {
      absl::MutexLock lock(&mu);
      finished.push_back(i);
    };
  }
  gate.Close(*h->engine);
  LlmRequest low = Request("One", 2);  // Priority 0 = level 2.
  LlmRequest explicit_low = Request("Two", 2);
  explicit_low.priority = 2;
  LlmRequest high = Request("Three", 2);
  high.priority = 1;
  ASSERT_TRUE(h->engine->Submit(low, outcomes[0].Callbacks()).ok());
  ASSERT_TRUE(h->engine->Submit(explicit_low, outcomes[1].Callbacks()).ok());
  ASSERT_TRUE(h->engine->Submit(high, outcomes[2].Callbacks()).ok());
  LlmRequest bad = Request("Four", 2);
  bad.priority = 3;
  EXPECT_EQ(h->engine->Submit(bad, LlmCallbacks{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  gate.Open();
  for (Outcome& o : outcomes) ASSERT_TRUE(o.WaitDone());
  {
    absl::MutexLock lock(&mu);
    EXPECT_THAT(finished, ::testing::ElementsAre(2, 0, 1));
  }
  h.reset();
  for (const Outcome& o : outcomes) o.ExpectWellFormed();
}

TEST(LlmEngine, DrainFinishesInFlightRequestsAndRefusesNewOnes) {
  const int n = 3;
  std::vector<Outcome> outcomes(n);
  std::vector<std::unique_ptr<Outcome>> extra;  // Accepted while polling.
  Gate gate;
  auto h = Start();
  ASSERT_NE(h, nullptr);
  gate.Close(*h->engine);
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(h->engine
                    ->Submit(Request(Prompts()[i], kTokens / 2),
                             outcomes[i].Callbacks())
                    .ok());
  }
  std::atomic<int> cancelled{-1};
  std::thread drainer(
      [&] { cancelled = h->engine->Drain(absl::Seconds(120)); });
  // Once Drain has begun, Submit says Unavailable. Until then a request
  // may still be accepted; it must finish too.
  absl::Status refused;
  for (int attempt = 0; attempt < 100000; ++attempt) {
    auto o = std::make_unique<Outcome>();
    absl::StatusOr<RequestId> id =
        h->engine->Submit(Request("Late", 1), o->Callbacks());
    if (id.ok()) {
      extra.push_back(std::move(o));
    } else {
      refused = id.status();
      if (refused.code() == absl::StatusCode::kUnavailable) break;
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  gate.Open();
  drainer.join();
  EXPECT_EQ(cancelled.load(), 0);
  EXPECT_EQ(h->engine->in_flight(), 0);
  // (Whether on_done has already run when Drain returns is checked by
  // DrainReturnsAfterEveryOnDone.)
  for (Outcome& o : outcomes) {
    ASSERT_TRUE(o.WaitDone());
    EXPECT_TRUE(o.status().ok()) << o.status();
    EXPECT_GT(o.result().generated_tokens, 0);
  }
  for (auto& o : extra) {
    ASSERT_TRUE(o->WaitDone());
    EXPECT_TRUE(o->status().ok()) << o->status();
  }
  const double refused_while_draining = h->Failures("unavailable");
  EXPECT_GE(refused_while_draining, 1);
  // Still refusing after the drain.
  EXPECT_EQ(
      h->engine->Submit(Request("After", 1), LlmCallbacks{}).status().code(),
      absl::StatusCode::kUnavailable);
  EXPECT_EQ(h->Failures("unavailable"), refused_while_draining + 1);
  EXPECT_EQ(h->metrics.request_success->value(),
            n + 1 + static_cast<double>(extra.size()));  // + the gate.
  h.reset();
  for (const Outcome& o : outcomes) o.ExpectWellFormed();
  for (const auto& o : extra) o->ExpectWellFormed();
}

// Regression: Finish erases a request under the lock but its on_done runs
// after the lock is released; Drain (and in_flight() == 0) used to return
// before the last on_done had run, while FxServer::Drain closes gRPC right
// after. Ten rounds made the old failure near certain.
TEST(LlmEngine, DrainReturnsAfterEveryOnDone) {
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE(round);
    std::vector<Outcome> outcomes(3);
    auto h = Start();
    ASSERT_NE(h, nullptr);
    for (size_t i = 0; i < outcomes.size(); ++i) {
      ASSERT_TRUE(
          h->engine->Submit(Request(Prompts()[i], 2), outcomes[i].Callbacks())
              .ok());
    }
    EXPECT_EQ(h->engine->Drain(absl::Seconds(120)), 0);
    int done_at_return = 0;
    for (const Outcome& o : outcomes) done_at_return += o.IsDone();
    h.reset();
    ASSERT_EQ(done_at_return, 3)
        << "Drain returned before every on_done had run";
  }
}

TEST(LlmEngine, DrainOfAnIdleEngineReturnsAtOnce) {
  auto h = Start();
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->engine->Drain(absl::Seconds(120)), 0);
  EXPECT_EQ(h->engine->Submit(Request("Hi", 1), LlmCallbacks{}).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(LlmEngine, DestroyingTheEngineEndsEveryRequestOnce) {
  std::vector<Outcome> outcomes(4);
  {
    auto h = Start();
    ASSERT_NE(h, nullptr);
    for (size_t i = 0; i < outcomes.size(); ++i) {
      ASSERT_TRUE(
          h->engine->Submit(Request(Prompts()[i], 200), outcomes[i].Callbacks())
              .ok());
    }
  }
  for (const Outcome& o : outcomes) {
    ASSERT_TRUE(o.IsDone());
    EXPECT_THAT(o.status().code(),
                AnyOf(absl::StatusCode::kOk, absl::StatusCode::kUnavailable))
        << o.status();
    o.ExpectWellFormed();
  }
}

TEST(LlmEngine, StreamedPiecesAndMetrics) {
  const int n = 5;
  std::vector<Outcome> outcomes(n);
  auto h = Start();
  ASSERT_NE(h, nullptr);
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(h->engine
                    ->Submit(Request(Prompts()[i], kTokens, Sampled(i)),
                             outcomes[i].Callbacks())
                    .ok());
  }
  int generated = 0, prompt = 0, with_tokens = 0;
  for (Outcome& o : outcomes) {
    ASSERT_TRUE(o.WaitDone());
    ASSERT_TRUE(o.status().ok()) << o.status();
    const LlmResult r = o.result();
    EXPECT_THAT(r.finish_reason, AnyOf("stop", "length"));
    EXPECT_LE(r.generated_tokens, kTokens);
    if (r.finish_reason == "length") {
      EXPECT_EQ(r.generated_tokens, kTokens);
    }
    generated += r.generated_tokens;
    prompt += r.prompt_tokens;
    with_tokens += r.generated_tokens > 0;
  }
  EXPECT_EQ(h->metrics.request_success->value(), n);
  EXPECT_EQ(h->metrics.generated_tokens->value(), generated);
  EXPECT_EQ(h->metrics.prompt_tokens->value(), prompt);
  EXPECT_GT(h->metrics.steps->value(), 0);
  EXPECT_EQ(h->metrics.request_duration->Take().count,
            static_cast<uint64_t>(n));
  EXPECT_EQ(h->metrics.queue_duration->Take().count, static_cast<uint64_t>(n));
  EXPECT_EQ(h->metrics.time_to_first_token->Take().count,
            static_cast<uint64_t>(with_tokens));
  EXPECT_EQ(h->metrics.inter_token_latency->Take().count,
            static_cast<uint64_t>(generated - with_tokens));
  EXPECT_EQ(h->metrics.pending_requests->value(), 0);
  EXPECT_EQ(h->metrics.running_requests->value(), 0);
  EXPECT_EQ(h->metrics.kv_blocks_used->value(), 0);
  for (const char* reason : {"cancelled", "deadline_exceeded", "internal"}) {
    EXPECT_EQ(h->Failures(reason), 0) << reason;
  }
  // The exposition names this model's series.
  EXPECT_THAT(h->registry.ExpositionText(),
              HasSubstr("fxserve_request_success_total{model=\"tiny\","
                        "backend=\"cpu\",model_instance=\"cpu_0\"} 5"));
  h.reset();
  for (const Outcome& o : outcomes) o.ExpectWellFormed();
}

TEST(LlmEngine, ConcurrentSubmitsFromSeveralThreads) {
  const int threads = 4, per_thread = 3;
  std::vector<Outcome> outcomes(threads * per_thread);
  auto h = Start();
  ASSERT_NE(h, nullptr);
  std::vector<std::thread> submitters;
  std::atomic<int> accepted{0};
  for (int t = 0; t < threads; ++t) {
    submitters.emplace_back([&, t] {
      for (int k = 0; k < per_thread; ++k) {
        const int i = t * per_thread + k;
        if (h->engine
                ->Submit(
                    Request(Prompts()[i % Prompts().size()], 4, Sampled(i)),
                    outcomes[i].Callbacks())
                .ok()) {
          ++accepted;
        }
      }
    });
  }
  for (std::thread& t : submitters) t.join();
  EXPECT_EQ(accepted.load(), threads * per_thread);
  for (Outcome& o : outcomes) {
    ASSERT_TRUE(o.WaitDone());
    EXPECT_TRUE(o.status().ok()) << o.status();
  }
  h.reset();
  for (const Outcome& o : outcomes) o.ExpectWellFormed();
}

// The gauges count a request's KV blocks from the step that admits it,
// not only once that step is over.
TEST(LlmEngine, KvGaugesCountARequestDuringItsFirstStep) {
  Outcome o;
  auto [h, pausable] = StartPausable();
  ASSERT_NE(h, nullptr);
  pausable->Pause();
  const int block = h->engine->capabilities().kv_block_tokens;
  // A prompt of more than one block, so the count is not 0 or 1 by chance.
  std::string prompt;
  while (h->engine->CountTokens(prompt) <= block) prompt += "The quick fox. ";
  const int prompt_tokens = h->engine->CountTokens(prompt);
  ASSERT_TRUE(h->engine->Submit(Request(prompt, 3), o.Callbacks()).ok());
  ASSERT_TRUE(pausable->AwaitHeldStep());
  const int want = (prompt_tokens + block - 1) / block;
  EXPECT_EQ(h->metrics.kv_blocks_used->value(), want);
  EXPECT_EQ(h->metrics.running_requests->value(), 1);
  EXPECT_EQ(h->metrics.pending_requests->value(), 0);
  EXPECT_GT(h->metrics.kv_usage_ratio->value(), 0);
  // The backend holds nothing yet: the gauge counts what the step will.
  EXPECT_EQ(pausable->FreeKvBlocks(), h->engine->capabilities().kv_blocks);
  pausable->Resume();
  ASSERT_TRUE(o.WaitDone());
  EXPECT_TRUE(o.status().ok()) << o.status();
  EXPECT_EQ(h->metrics.kv_blocks_used->value(), 0);
  EXPECT_EQ(h->metrics.running_requests->value(), 0);
  h.reset();
  o.ExpectWellFormed();
}

// Submits a long request while `pausable` is paused and waits until its
// first step is held inside the backend.
absl::StatusOr<RequestId> SubmitHeld(Harness& h, PausableBackend& pausable,
                                     absl::Time deadline, Outcome& o) {
  LlmRequest request = Request(kLongRunningPrompt, 200);
  request.deadline = deadline;
  pausable.Pause();
  absl::StatusOr<RequestId> id = h.engine->Submit(request, o.Callbacks());
  if (id.ok() && !pausable.AwaitHeldStep()) {
    return absl::DeadlineExceededError("no step was held");
  }
  return id;
}

// A long request whose first step is held inside the backend while its
// deadline is still ahead.
struct HeldBeforeDeadline {
  RequestId id = 0;
  absl::Time deadline;
  Outcome* outcome = nullptr;
  int expired_in_queue = 0;  // Earlier attempts, ended before admission.
};

// Submits with a deadline `margin` ahead and waits until the step is held
// or the request ended. A deadline can pass before the engine admits the
// request (however short the wait); the engine then ends it in the queue,
// and the next attempt gets twice the margin. Every Outcome stays alive in
// `outcomes`.
absl::StatusOr<HeldBeforeDeadline> SubmitHeldBeforeDeadline(
    Harness& h, PausableBackend& pausable, std::deque<Outcome>& outcomes) {
  HeldBeforeDeadline held;
  for (absl::Duration margin = absl::Milliseconds(1);
       margin <= absl::Seconds(60); margin *= 2) {
    Outcome& o = outcomes.emplace_back();
    held.deadline = absl::Now() + margin;
    LlmRequest request = Request(kLongRunningPrompt, 200);
    request.deadline = held.deadline;
    pausable.Pause();
    absl::StatusOr<RequestId> id = h.engine->Submit(request, o.Callbacks());
    if (!id.ok()) return id.status();
    const absl::Time give_up = absl::Now() + kTimeout;
    while (!pausable.holding() && !o.IsDone() && absl::Now() < give_up) {
      absl::SleepFor(absl::Microseconds(100));
    }
    if (pausable.holding()) {
      held.id = *id;
      held.outcome = &o;
      return held;
    }
    if (!o.WaitDone()) return absl::DeadlineExceededError("no step was held");
    if (o.status().code() != absl::StatusCode::kDeadlineExceeded) {
      return absl::InternalError(
          absl::StrCat("ended before its step: ", o.status().ToString()));
    }
    ++held.expired_in_queue;
  }
  return absl::DeadlineExceededError("every deadline passed in the queue");
}

// A deadline that passes during a step ends the request at the next step
// boundary as DEADLINE_EXCEEDED and frees its KV, however long the step.
TEST(LlmEngine, DeadlinePassingDuringAHeldStepEndsAtTheNextBoundary) {
  std::deque<Outcome> outcomes;
  auto [h, pausable] = StartPausable();
  ASSERT_NE(h, nullptr);
  absl::StatusOr<HeldBeforeDeadline> held =
      SubmitHeldBeforeDeadline(*h, *pausable, outcomes);
  ASSERT_TRUE(held.ok()) << held.status();
  Outcome& o = *held->outcome;
  EXPECT_GT(h->metrics.kv_blocks_used->value(), 0);
  while (absl::Now() <= held->deadline) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_FALSE(o.IsDone());  // Nothing ends inside a step.
  pausable->Resume();
  ASSERT_TRUE(o.WaitDone());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kDeadlineExceeded)
      << o.status();
  EXPECT_LE(o.result().generated_tokens, 1);  // The held step's token.
  EXPECT_EQ(h->Failures("deadline_exceeded"), 1 + held->expired_in_queue);
  EXPECT_EQ(h->Failures("cancelled"), 0);
  EXPECT_EQ(h->metrics.kv_blocks_used->value(), 0);
  EXPECT_EQ(h->metrics.running_requests->value(), 0);
  EXPECT_EQ(pausable->FreeKvBlocks(), h->engine->capabilities().kv_blocks);
  h.reset();
  for (const Outcome& each : outcomes) each.ExpectWellFormed();
}

// gRPC cancels a call whose deadline expired: a cancel that arrives after
// the request's deadline counts as the deadline; one before it, as a cancel.
TEST(LlmEngine, CancelAfterTheDeadlineCountsAsTheDeadline) {
  Outcome early;
  std::deque<Outcome> outcomes;
  auto [h, pausable] = StartPausable();
  ASSERT_NE(h, nullptr);
  absl::StatusOr<RequestId> id =
      SubmitHeld(*h, *pausable, absl::InfiniteFuture(), early);
  ASSERT_TRUE(id.ok()) << id.status();
  h->engine->Cancel(*id);
  pausable->Resume();
  ASSERT_TRUE(early.WaitDone());
  EXPECT_EQ(early.status().code(), absl::StatusCode::kCancelled)
      << early.status();

  absl::StatusOr<HeldBeforeDeadline> held =
      SubmitHeldBeforeDeadline(*h, *pausable, outcomes);
  ASSERT_TRUE(held.ok()) << held.status();
  Outcome& late = *held->outcome;
  while (absl::Now() <= held->deadline) absl::SleepFor(absl::Milliseconds(1));
  h->engine->Cancel(held->id);
  pausable->Resume();
  ASSERT_TRUE(late.WaitDone());
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded)
      << late.status();
  EXPECT_THAT(std::string(late.status().message()), HasSubstr("deadline"));
  EXPECT_EQ(h->Failures("cancelled"), 1);
  EXPECT_EQ(h->Failures("deadline_exceeded"), 1 + held->expired_in_queue);
  EXPECT_EQ(h->metrics.kv_blocks_used->value(), 0);
  h.reset();
  early.ExpectWellFormed();
  for (const Outcome& each : outcomes) each.ExpectWellFormed();
}

}  // namespace
}  // namespace fxserve::server::llm
