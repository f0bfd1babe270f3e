// LlmInstances: the least-loaded pick, and a model on two CPU-backend
// instances of the build's tiny GPT-2: the same texts as on one, every
// instance used, cancellation reaching the instance that runs a request,
// statistics summed, mismatched engines refused.
#include "server/llm/llm_instances.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "backends/backend.h"
#include "gtest/gtest.h"
#include "server/llm/llm_metrics.h"
#include "server/metrics/metrics.h"
#include "tests/server/llm/tiny_model.h"

namespace fxserve::server::llm {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(120);  // Only if broken.

TEST(PickLeastLoaded, PicksTheFewestInFlight) {
  int rotor = 0;
  EXPECT_EQ(PickLeastLoaded(std::vector<int>{3, 1, 2}, rotor), 1);
  EXPECT_EQ(rotor, 2);
  EXPECT_EQ(PickLeastLoaded(std::vector<int>{0, 5, 4}, rotor), 0);
  EXPECT_EQ(rotor, 1);
}

TEST(PickLeastLoaded, TiesRotate) {
  int rotor = 0;
  std::vector<int> picks;
  for (int i = 0; i < 6; ++i) {
    picks.push_back(PickLeastLoaded(std::vector<int>{2, 2, 2}, rotor));
  }
  EXPECT_EQ(picks, (std::vector<int>{0, 1, 2, 0, 1, 2}));
}

// Whatever finished in between, the first n requests reach n instances.
TEST(PickLeastLoaded, FirstRequestsReachEveryInstance) {
  for (int finished_each_time : {0, 1}) {
    std::vector<int> loads(4, 0);
    int rotor = 0;
    std::vector<bool> used(4, false);
    for (int r = 0; r < 4; ++r) {
      const int i = PickLeastLoaded(loads, rotor);
      used[i] = true;
      loads[i] += 1 - finished_each_time;
    }
    EXPECT_EQ(used, std::vector<bool>(4, true)) << finished_each_time;
  }
}

// What one request's callbacks saw; `hold` (if set) runs on the engine
// thread at the first piece of text.
struct Outcome {
  std::function<void()> hold;
  absl::Mutex mu;
  std::string text;
  absl::Status status;
  absl::Notification done;

  LlmCallbacks Callbacks() {
    return {.on_text =
                [this](std::string piece) {
                  bool first;
                  {
                    absl::MutexLock lock(&mu);
                    first = text.empty();
                    text += piece;
                  }
                  if (first && hold) hold();
                },
            .on_done =
                [this](const absl::Status& s, const LlmResult&) {
                  {
                    absl::MutexLock lock(&mu);
                    status = s;
                  }
                  done.Notify();
                }};
  }
};

// An engine of model `name` on the CPU backend.
std::unique_ptr<LlmEngine> MakeEngine(const std::string& name,
                                      const LlmMetrics& metrics) {
  auto backend =
      backends::CreateBackend("cpu", Model(), {.threads = 1, .max_batch = 4});
  EXPECT_TRUE(backend.ok()) << backend.status();
  if (!backend.ok()) return nullptr;
  LlmEngineOptions options;
  options.model_name = name;
  auto engine =
      LlmEngine::Create(options, *std::move(backend), Tokenizer(), metrics);
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? *std::move(engine) : nullptr;
}

// A model on `count` CPU instances, each with its own metrics.
struct Served {
  MetricsRegistry registry;
  LlmMetricFamilies families{registry};
  std::unique_ptr<LlmInstances> model;

  explicit Served(int count) {
    std::vector<LlmInstance> instances;
    for (int i = 0; i < count; ++i) {
      instances.push_back(
          {.name = Name(i),
           .backend = "cpu",
           .engine = MakeEngine("tiny",
                                families.ForInstance("tiny", "cpu", Name(i)))});
    }
    auto created = LlmInstances::Create(std::move(instances));
    EXPECT_TRUE(created.ok()) << created.status();
    if (created.ok()) model = *std::move(created);
  }

  static std::string Name(int i) { return "cpu_" + std::to_string(i); }
  double Successes(int instance) {
    return families.ForInstance("tiny", "cpu", Name(instance))
        .request_success->value();
  }
};

LlmRequest Request(const std::string& prompt, int max_tokens, uint64_t seed) {
  LlmRequest request;
  request.prompt = prompt;
  request.max_tokens = max_tokens;
  request.sampling.temperature = seed == 0 ? 0 : 0.9f;
  request.sampling.top_k = 40;
  request.sampling.seed = seed;
  return request;
}

std::vector<std::string> Generate(LlmInstances& model, int requests) {
  std::vector<std::unique_ptr<Outcome>> outcomes;
  for (int i = 0; i < requests; ++i) {
    outcomes.push_back(std::make_unique<Outcome>());
    auto id = model.Submit(Request("Request number " + std::to_string(i), 12,
                                   static_cast<uint64_t>(i)),
                           outcomes.back()->Callbacks());
    EXPECT_TRUE(id.ok()) << id.status();
  }
  std::vector<std::string> texts;
  for (auto& outcome : outcomes) {
    EXPECT_TRUE(outcome->done.WaitForNotificationWithTimeout(kTimeout));
    absl::MutexLock lock(&outcome->mu);
    EXPECT_TRUE(outcome->status.ok()) << outcome->status;
    texts.push_back(outcome->text);
  }
  return texts;
}

TEST(LlmInstances, TwoInstancesGiveOneInstancesTextsAndBothServe) {
  Served one(1);
  Served two(2);
  const std::vector<std::string> expected = Generate(*one.model, 6);
  EXPECT_EQ(Generate(*two.model, 6), expected);
  EXPECT_GE(two.Successes(0), 1);
  EXPECT_GE(two.Successes(1), 1);
  EXPECT_EQ(two.Successes(0) + two.Successes(1), 6);
  EXPECT_EQ(two.model->statistics().success_count, 6u);
}

TEST(LlmInstances, CancelReachesTheInstanceRunningTheRequest) {
  Served two(2);
  Outcome first, second;
  absl::Notification second_running, release;
  second.hold = [&] {
    second_running.Notify();
    release.WaitForNotificationWithTimeout(kTimeout);
  };
  auto first_id = two.model->Submit(Request("Kept", 4, 0), first.Callbacks());
  auto second_id =
      two.model->Submit(Request("Cancelled", 200, 0), second.Callbacks());
  ASSERT_TRUE(first_id.ok() && second_id.ok());
  ASSERT_TRUE(second_running.WaitForNotificationWithTimeout(kTimeout));
  two.model->Cancel(*second_id);
  release.Notify();
  ASSERT_TRUE(second.done.WaitForNotificationWithTimeout(kTimeout));
  ASSERT_TRUE(first.done.WaitForNotificationWithTimeout(kTimeout));
  EXPECT_EQ(second.status.code(), absl::StatusCode::kCancelled)
      << second.status;
  EXPECT_TRUE(first.status.ok()) << first.status;
  EXPECT_EQ(two.Successes(0), 1);  // The first went to instance 0.
}

TEST(LlmInstances, RefusesNoInstancesAndMismatchedModels) {
  EXPECT_EQ(LlmInstances::Create({}).status().code(),
            absl::StatusCode::kInvalidArgument);
  MetricsRegistry registry;
  LlmMetricFamilies families{registry};
  std::vector<LlmInstance> mixed;
  for (const char* name : {"tiny", "other"}) {
    mixed.push_back(
        {.name = name,
         .backend = "cpu",
         .engine = MakeEngine(name, families.ForInstance(name, "cpu", name))});
  }
  absl::StatusOr<std::unique_ptr<LlmInstances>> refused =
      LlmInstances::Create(std::move(mixed));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("other"), std::string::npos)
      << refused.status();
}

}  // namespace
}  // namespace fxserve::server::llm
