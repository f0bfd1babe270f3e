// The continuous-batching scheduler: admission by batch slots, KV
// reservation and priority; chunked prefill next to running decodes;
// validation; removal; and a randomized simulation checking its invariants.
#include "server/llm/scheduler.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fxserve::server::llm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<int> Prompt(int n, int first = 100) {
  std::vector<int> tokens(n);
  for (int i = 0; i < n; ++i) tokens[i] = first + i;
  return tokens;
}

SchedulerOptions Options() {
  SchedulerOptions o;
  o.max_batch = 4;
  o.max_prefill_tokens_per_step = 64;
  o.kv_block_tokens = 4;
  o.kv_blocks = 64;
  o.max_context = 64;
  o.max_queue_size = 16;
  o.priority_levels = 1;
  return o;
}

std::vector<RequestId> ChunkIds(const StepPlan& plan) {
  std::vector<RequestId> ids;
  for (const ScheduledChunk& c : plan.chunks) ids.push_back(c.id);
  return ids;
}

const ScheduledChunk* FindChunk(const StepPlan& plan, RequestId id) {
  for (const ScheduledChunk& c : plan.chunks) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

// Commits `plan` and appends a token to every sampling chunk, as the engine
// does after a step.
void RunStep(Scheduler& s, const StepPlan& plan, int token = 7) {
  s.CommitStep(plan);
  for (const ScheduledChunk& c : plan.chunks) {
    if (c.samples) s.AppendToken(c.id, token);
  }
}

TEST(SchedulerOptions, Validate) {
  EXPECT_TRUE(Options().Validate().ok());
  SchedulerOptions o = Options();
  o.max_batch = 0;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o = Options();
  o.max_prefill_tokens_per_step = 0;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o = Options();
  o.kv_blocks = 0;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o = Options();
  o.kv_block_tokens = 0;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o = Options();
  o.max_context = 1;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o = Options();
  o.max_queue_size = -1;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o = Options();
  o.priority_levels = 0;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Scheduler, EmptySchedulerPlansNothing) {
  Scheduler s(Options());
  const StepPlan plan = s.Schedule();
  EXPECT_TRUE(plan.empty());
  EXPECT_THAT(plan.admitted, IsEmpty());
  EXPECT_EQ(plan.prefill_tokens, 0);
  EXPECT_EQ(plan.decode_tokens, 0);
}

TEST(Scheduler, AdmitsUpToMaxBatch) {
  SchedulerOptions o = Options();
  o.max_batch = 2;
  Scheduler s(o);
  for (RequestId id = 1; id <= 3; ++id) {
    ASSERT_TRUE(s.Enqueue(id, Prompt(3), 2, 1).ok());
  }
  EXPECT_EQ(s.waiting(), 3);
  StepPlan plan = s.Schedule();
  EXPECT_THAT(plan.admitted, ElementsAre(1, 2));
  EXPECT_THAT(ChunkIds(plan), ElementsAre(1, 2));
  EXPECT_EQ(s.running(), 2);
  EXPECT_EQ(s.waiting(), 1);
  EXPECT_TRUE(s.IsRunning(1));
  EXPECT_TRUE(s.IsRunning(2));
  EXPECT_TRUE(s.IsWaiting(3));
  EXPECT_THAT(s.WaitingIds(), ElementsAre(3));
  for (const ScheduledChunk& c : plan.chunks) {
    EXPECT_EQ(c.start, 0);
    EXPECT_EQ(c.count, 3);
    EXPECT_TRUE(c.samples);
  }
  EXPECT_EQ(plan.prefill_tokens, 6);
  EXPECT_EQ(plan.decode_tokens, 0);
  RunStep(s, plan);

  // The batch is full: the next step decodes 1 and 2 and admits nothing.
  plan = s.Schedule();
  EXPECT_THAT(plan.admitted, IsEmpty());
  EXPECT_THAT(ChunkIds(plan), ElementsAre(1, 2));
  EXPECT_EQ(plan.decode_tokens, 2);
  RunStep(s, plan);

  // A slot frees: 3 gets it.
  EXPECT_TRUE(s.Remove(1));
  plan = s.Schedule();
  EXPECT_THAT(plan.admitted, ElementsAre(3));
  EXPECT_THAT(ChunkIds(plan), ElementsAre(2, 3));
  EXPECT_EQ(s.running(), 2);
  EXPECT_EQ(s.waiting(), 0);
}

TEST(Scheduler, ReservesCeilOfPromptPlusMaxNewOverBlockSize) {
  Scheduler s(Options());                            // 4 tokens per block.
  ASSERT_TRUE(s.Enqueue(1, Prompt(5), 2, 1).ok());   // 7 -> 2 blocks.
  ASSERT_TRUE(s.Enqueue(2, Prompt(4), 4, 1).ok());   // 8 -> 2 blocks.
  ASSERT_TRUE(s.Enqueue(3, Prompt(1), 0, 1).ok());   // 1 -> 1 block.
  ASSERT_TRUE(s.Enqueue(4, Prompt(60), 4, 1).ok());  // 64 -> 16 blocks.
  EXPECT_EQ(s.reserved_kv_blocks(), 0);              // Nothing until admission.
  const StepPlan plan = s.Schedule();
  EXPECT_THAT(plan.admitted, ElementsAre(1, 2, 3, 4));
  EXPECT_EQ(s.reserved_kv_blocks(), 2 + 2 + 1 + 16);
  EXPECT_FALSE(s.Remove(99));
  EXPECT_TRUE(s.Remove(4));
  EXPECT_EQ(s.reserved_kv_blocks(), 5);
  EXPECT_TRUE(s.Remove(1));
  EXPECT_EQ(s.reserved_kv_blocks(), 3);
}

TEST(Scheduler, FullCacheBlocksAdmissionUntilRemove) {
  SchedulerOptions o = Options();
  o.kv_blocks = 5;
  Scheduler s(o);
  ASSERT_TRUE(s.Enqueue(1, Prompt(6), 6, 1).ok());  // 12 -> 3 blocks.
  ASSERT_TRUE(s.Enqueue(2, Prompt(6), 6, 1).ok());  // 3 blocks: 6 > 5.
  StepPlan plan = s.Schedule();
  EXPECT_THAT(plan.admitted, ElementsAre(1));
  EXPECT_EQ(s.reserved_kv_blocks(), 3);
  EXPECT_TRUE(s.IsWaiting(2));
  RunStep(s, plan);
  // However many steps run, 2 waits while 1 holds its reservation.
  for (int step = 0; step < 3; ++step) {
    plan = s.Schedule();
    EXPECT_THAT(plan.admitted, IsEmpty());
    EXPECT_THAT(ChunkIds(plan), ElementsAre(1));
    RunStep(s, plan);
  }
  EXPECT_TRUE(s.Remove(1));
  EXPECT_EQ(s.reserved_kv_blocks(), 0);
  plan = s.Schedule();
  EXPECT_THAT(plan.admitted, ElementsAre(2));
  EXPECT_EQ(s.reserved_kv_blocks(), 3);
}

TEST(Scheduler, HeadOfLineIsNotOvertakenBySmallerRequests) {
  SchedulerOptions o = Options();
  o.kv_blocks = 4;
  Scheduler s(o);
  ASSERT_TRUE(s.Enqueue(1, Prompt(4), 8, 1).ok());  // 3 blocks.
  ASSERT_TRUE(s.Enqueue(2, Prompt(4), 4, 1).ok());  // 2 blocks: no room.
  ASSERT_TRUE(s.Enqueue(3, Prompt(2), 1, 1).ok());  // 1 block: would fit.
  StepPlan plan = s.Schedule();
  EXPECT_THAT(plan.admitted, ElementsAre(1));
  RunStep(s, plan);
  plan = s.Schedule();
  EXPECT_THAT(plan.admitted, IsEmpty());
  EXPECT_TRUE(s.IsWaiting(3)) << "3 overtook the blocked head of the queue";
  EXPECT_TRUE(s.Remove(1));
  plan = s.Schedule();
  EXPECT_THAT(plan.admitted, ElementsAre(2, 3));
}

TEST(Scheduler, AdmitsInArrivalOrderNotIdOrder) {
  SchedulerOptions o = Options();
  o.max_batch = 1;
  Scheduler s(o);
  ASSERT_TRUE(s.Enqueue(30, Prompt(2), 1, 1).ok());
  ASSERT_TRUE(s.Enqueue(10, Prompt(2), 1, 1).ok());
  ASSERT_TRUE(s.Enqueue(20, Prompt(2), 1, 1).ok());
  std::vector<RequestId> order;
  for (int i = 0; i < 3; ++i) {
    const StepPlan plan = s.Schedule();
    ASSERT_EQ(plan.admitted.size(), 1u);
    order.push_back(plan.admitted[0]);
    EXPECT_TRUE(s.Remove(plan.admitted[0]));
  }
  EXPECT_THAT(order, ElementsAre(30, 10, 20));
}

TEST(Scheduler, HigherPriorityIsAdmittedFirst) {
  SchedulerOptions o = Options();
  o.max_batch = 1;
  o.priority_levels = 3;
  Scheduler s(o);
  ASSERT_TRUE(s.Enqueue(1, Prompt(2), 1, 3).ok());
  ASSERT_TRUE(s.Enqueue(2, Prompt(2), 1, 2).ok());
  ASSERT_TRUE(s.Enqueue(3, Prompt(2), 1, 2).ok());
  ASSERT_TRUE(s.Enqueue(4, Prompt(2), 1, 1).ok());
  std::vector<RequestId> order;
  for (int i = 0; i < 4; ++i) {
    const StepPlan plan = s.Schedule();
    ASSERT_EQ(plan.admitted.size(), 1u);
    order.push_back(plan.admitted[0]);
    EXPECT_TRUE(s.Remove(plan.admitted[0]));
  }
  EXPECT_THAT(order, ElementsAre(4, 2, 3, 1));
}

TEST(Scheduler, PriorityOneBeforeTwoWithinOneStep) {
  SchedulerOptions o = Options();
  o.max_batch = 2;
  o.priority_levels = 2;
  Scheduler s(o);
  ASSERT_TRUE(s.Enqueue(1, Prompt(2), 1, 2).ok());
  ASSERT_TRUE(s.Enqueue(2, Prompt(2), 1, 2).ok());
  ASSERT_TRUE(s.Enqueue(3, Prompt(2), 1, 1).ok());
  const StepPlan plan = s.Schedule();
  EXPECT_THAT(plan.admitted, ElementsAre(3, 1));
  EXPECT_TRUE(s.IsWaiting(2));
}

TEST(Scheduler, QueueFullIsResourceExhausted) {
  SchedulerOptions o = Options();
  o.max_queue_size = 2;
  o.max_batch = 1;
  Scheduler s(o);
  ASSERT_TRUE(s.Enqueue(1, Prompt(2), 1, 1).ok());
  ASSERT_TRUE(s.Enqueue(2, Prompt(2), 1, 1).ok());
  const absl::Status full = s.Enqueue(3, Prompt(2), 1, 1);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(full.message()), HasSubstr("queue is full"));
  EXPECT_FALSE(s.IsWaiting(3));
  // Admission makes room in the queue (running requests do not count).
  s.Schedule();
  EXPECT_EQ(s.waiting(), 1);
  EXPECT_TRUE(s.Enqueue(3, Prompt(2), 1, 1).ok());
  EXPECT_EQ(s.Enqueue(4, Prompt(2), 1, 1).code(),
            absl::StatusCode::kResourceExhausted);
  // So does removing a waiting request.
  EXPECT_FALSE(s.Remove(2));
  EXPECT_TRUE(s.Enqueue(4, Prompt(2), 1, 1).ok());
}

TEST(Scheduler, ZeroQueueSizeRejectsEverything) {
  SchedulerOptions o = Options();
  o.max_queue_size = 0;
  Scheduler s(o);
  EXPECT_EQ(s.Enqueue(1, Prompt(2), 1, 1).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(Scheduler, InvalidRequestsAreInvalidArgument) {
  SchedulerOptions o = Options();
  o.priority_levels = 2;
  o.kv_blocks = 3;  // 12 tokens of cache; the context is 64.
  Scheduler s(o);
  const auto expect_invalid = [&](const absl::Status& status,
                                  const std::string& substring) {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(substring));
  };
  expect_invalid(s.Enqueue(1, {}, 1, 1), "no tokens");
  expect_invalid(s.Enqueue(1, Prompt(60), 5, 1), "context");
  expect_invalid(s.Enqueue(1, Prompt(65), 0, 1), "context");
  expect_invalid(s.Enqueue(1, Prompt(2), -1, 1), "context");
  expect_invalid(s.Enqueue(1, Prompt(2), 1, 0), "priority 0");
  expect_invalid(s.Enqueue(1, Prompt(2), 1, 3), "priority 3");
  expect_invalid(s.Enqueue(1, Prompt(10), 3, 1), "KV cache blocks");
  EXPECT_EQ(s.waiting(), 0);

  ASSERT_TRUE(s.Enqueue(1, Prompt(2), 1, 1).ok());
  expect_invalid(s.Enqueue(1, Prompt(2), 1, 1), "already");  // Waiting.
  s.Schedule();
  ASSERT_TRUE(s.IsRunning(1));
  expect_invalid(s.Enqueue(1, Prompt(2), 1, 2), "already");  // Running.
  EXPECT_EQ(s.Tokens(1).size(), 2u);  // The original is untouched.

  // Exactly the whole cache is allowed.
  EXPECT_TRUE(s.Enqueue(2, Prompt(12), 0, 2).ok());
}

TEST(Scheduler, ChunkedPrefillThenDecode) {
  SchedulerOptions o = Options();
  o.max_prefill_tokens_per_step = 4;
  Scheduler s(o);
  ASSERT_TRUE(s.Enqueue(1, Prompt(10), 3, 1).ok());

  StepPlan plan = s.Schedule();
  EXPECT_THAT(plan.admitted, ElementsAre(1));
  ASSERT_EQ(plan.chunks.size(), 1u);
  EXPECT_EQ(plan.chunks[0].start, 0);
  EXPECT_EQ(plan.chunks[0].count, 4);
  EXPECT_FALSE(plan.chunks[0].samples);
  EXPECT_EQ(plan.prefill_tokens, 4);
  RunStep(s, plan);

  plan = s.Schedule();
  EXPECT_THAT(plan.admitted, IsEmpty());
  ASSERT_EQ(plan.chunks.size(), 1u);
  EXPECT_EQ(plan.chunks[0].start, 4);
  EXPECT_EQ(plan.chunks[0].count, 4);
  EXPECT_FALSE(plan.chunks[0].samples);
  RunStep(s, plan);

  plan = s.Schedule();
  ASSERT_EQ(plan.chunks.size(), 1u);
  EXPECT_EQ(plan.chunks[0].start, 8);
  EXPECT_EQ(plan.chunks[0].count, 2);
  EXPECT_TRUE(plan.chunks[0].samples);
  EXPECT_EQ(plan.prefill_tokens, 2);
  EXPECT_EQ(plan.decode_tokens, 0);
  s.CommitStep(plan);
  EXPECT_EQ(s.GeneratedTokens(1), 0);
  // Until the sampled token is appended there is nothing to run.
  EXPECT_TRUE(s.Schedule().empty());
  s.AppendToken(1, 501);
  EXPECT_EQ(s.GeneratedTokens(1), 1);

  for (int i = 0; i < 2; ++i) {
    plan = s.Schedule();
    ASSERT_EQ(plan.chunks.size(), 1u);
    EXPECT_EQ(plan.chunks[0].start, 10 + i);
    EXPECT_EQ(plan.chunks[0].count, 1);
    EXPECT_TRUE(plan.chunks[0].samples);
    EXPECT_EQ(plan.prefill_tokens, 0);
    EXPECT_EQ(plan.decode_tokens, 1);
    s.CommitStep(plan);
    s.AppendToken(1, 502 + i);
  }
  EXPECT_EQ(s.GeneratedTokens(1), 3);
  std::vector<int> expected = Prompt(10);
  expected.insert(expected.end(), {501, 502, 503});
  EXPECT_THAT(std::vector<int>(s.Tokens(1).begin(), s.Tokens(1).end()),
              ::testing::ElementsAreArray(expected));
  EXPECT_TRUE(s.Remove(1));
  EXPECT_TRUE(s.Tokens(1).empty());
  EXPECT_EQ(s.GeneratedTokens(1), 0);
  EXPECT_EQ(s.running(), 0);
}

TEST(Scheduler, LongPromptNeverStallsRunningDecodes) {
  SchedulerOptions o = Options();
  o.max_prefill_tokens_per_step = 4;
  Scheduler s(o);
  ASSERT_TRUE(s.Enqueue(1, Prompt(2), 30, 1).ok());
  ASSERT_TRUE(s.Enqueue(2, Prompt(3), 30, 1).ok());
  StepPlan plan = s.Schedule();
  EXPECT_THAT(plan.admitted, ElementsAre(1, 2));
  // 2 + 3 tokens, but the budget is 4: 2 gets the remaining 2.
  ASSERT_EQ(plan.chunks.size(), 2u);
  EXPECT_TRUE(plan.chunks[0].samples);
  EXPECT_EQ(plan.chunks[1].count, 2);
  EXPECT_FALSE(plan.chunks[1].samples);
  RunStep(s, plan);

  ASSERT_TRUE(s.Enqueue(3, Prompt(25), 2, 1).ok());
  int steps_with_prefill_of_3 = 0;
  int prefilled_3 = 0;
  for (int step = 0; step < 12 && prefilled_3 < 25; ++step) {
    plan = s.Schedule();
    SCOPED_TRACE(step);
    EXPECT_LE(plan.prefill_tokens, 4);
    const ScheduledChunk* one = FindChunk(plan, 1);
    ASSERT_NE(one, nullptr) << "decode of 1 was not planned";
    EXPECT_EQ(one->count, 1);
    EXPECT_TRUE(one->samples);
    if (step > 0) {
      const ScheduledChunk* two = FindChunk(plan, 2);
      ASSERT_NE(two, nullptr) << "decode of 2 was not planned";
      EXPECT_EQ(two->count, 1);
    }
    if (const ScheduledChunk* three = FindChunk(plan, 3)) {
      EXPECT_EQ(three->start, prefilled_3);
      EXPECT_LE(three->count, 4);
      prefilled_3 += three->count;
      EXPECT_EQ(three->samples, prefilled_3 == 25);
      ++steps_with_prefill_of_3;
    }
    RunStep(s, plan);
  }
  EXPECT_EQ(prefilled_3, 25);
  EXPECT_GE(steps_with_prefill_of_3, 7);  // ceil(25 / 4)
}

TEST(Scheduler, DecodesDoNotUseThePrefillBudget) {
  SchedulerOptions o = Options();
  o.max_prefill_tokens_per_step = 2;
  o.max_batch = 8;
  Scheduler s(o);
  for (RequestId id = 1; id <= 4; ++id) {
    ASSERT_TRUE(s.Enqueue(id, Prompt(1), 10, 1).ok());
  }
  // All four are admitted (slots and KV allow); two one-token prompts run
  // per step.
  StepPlan plan = s.Schedule();
  EXPECT_THAT(plan.admitted, ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(ChunkIds(plan), ElementsAre(1, 2));
  RunStep(s, plan);
  plan = s.Schedule();
  EXPECT_THAT(plan.admitted, ElementsAre());
  EXPECT_EQ(plan.decode_tokens, 2);
  EXPECT_EQ(plan.prefill_tokens, 2);
  EXPECT_THAT(ChunkIds(plan), ElementsAre(1, 2, 3, 4));
  RunStep(s, plan);
  ASSERT_TRUE(s.Enqueue(5, Prompt(1), 10, 1).ok());
  plan = s.Schedule();
  EXPECT_EQ(plan.decode_tokens, 4);
  EXPECT_THAT(plan.admitted, ElementsAre(5));
}

// Regression: admission used to stop once the step's prefill budget was
// spent, so a second long prompt waited in the queue (slots and KV free)
// until the first one's prefill was done; both must share the budget.
TEST(Scheduler, FairSplitOfPrefillBudgetBetweenLongPrompts) {
  SchedulerOptions o = Options();
  o.max_prefill_tokens_per_step = 8;
  Scheduler s(o);
  ASSERT_TRUE(s.Enqueue(1, Prompt(40), 1, 1).ok());
  ASSERT_TRUE(s.Enqueue(2, Prompt(40), 1, 1).ok());
  StepPlan plan = s.Schedule();
  EXPECT_EQ(plan.prefill_tokens, 8);
  EXPECT_TRUE(s.IsRunning(2))
      << "2 waits although a batch slot and KV blocks are free";
  RunStep(s, plan);
  // From the next step on, both prompts are running and split the budget.
  plan = s.Schedule();
  EXPECT_EQ(plan.prefill_tokens, 8);
  const ScheduledChunk* one = FindChunk(plan, 1);
  const ScheduledChunk* two = FindChunk(plan, 2);
  ASSERT_NE(one, nullptr);
  ASSERT_NE(two, nullptr) << "prompt 2 got no share of the prefill budget";
  EXPECT_EQ(one->count, 4);
  EXPECT_EQ(two->count, 4);
}

TEST(Scheduler, PartiallyAdmittedPromptContinuesWhereItStopped) {
  SchedulerOptions o = Options();
  o.max_prefill_tokens_per_step = 6;
  Scheduler s(o);
  ASSERT_TRUE(s.Enqueue(1, Prompt(4), 5, 1).ok());
  ASSERT_TRUE(s.Enqueue(2, Prompt(9), 5, 1).ok());
  StepPlan plan = s.Schedule();
  ASSERT_EQ(plan.chunks.size(), 2u);
  EXPECT_EQ(plan.chunks[0].count, 4);
  EXPECT_TRUE(plan.chunks[0].samples);
  EXPECT_EQ(plan.chunks[1].start, 0);
  EXPECT_EQ(plan.chunks[1].count, 2);
  EXPECT_FALSE(plan.chunks[1].samples);
  RunStep(s, plan);
  plan = s.Schedule();
  ASSERT_EQ(plan.chunks.size(), 2u);
  EXPECT_EQ(plan.chunks[0].id, 1u);
  EXPECT_EQ(plan.chunks[0].start, 4);
  EXPECT_EQ(plan.chunks[0].count, 1);
  EXPECT_EQ(plan.chunks[1].id, 2u);
  EXPECT_EQ(plan.chunks[1].start, 2);
  EXPECT_EQ(plan.chunks[1].count, 6);
  EXPECT_FALSE(plan.chunks[1].samples);
  RunStep(s, plan);
  plan = s.Schedule();
  const ScheduledChunk* two = FindChunk(plan, 2);
  ASSERT_NE(two, nullptr);
  EXPECT_EQ(two->start, 8);
  EXPECT_EQ(two->count, 1);
  EXPECT_TRUE(two->samples);
}

TEST(Scheduler, ChunksAreSortedById) {
  SchedulerOptions o = Options();
  o.max_batch = 8;
  o.priority_levels = 2;
  Scheduler s(o);
  // Arrival and priority order differ from id order.
  ASSERT_TRUE(s.Enqueue(50, Prompt(2), 4, 2).ok());
  ASSERT_TRUE(s.Enqueue(7, Prompt(2), 4, 2).ok());
  ASSERT_TRUE(s.Enqueue(31, Prompt(2), 4, 1).ok());
  StepPlan plan = s.Schedule();
  EXPECT_THAT(plan.admitted, ElementsAre(31, 50, 7));
  EXPECT_THAT(ChunkIds(plan), ElementsAre(7, 31, 50));
  RunStep(s, plan);
  ASSERT_TRUE(s.Enqueue(3, Prompt(5), 4, 2).ok());
  ASSERT_TRUE(s.Enqueue(40, Prompt(5), 4, 1).ok());
  plan = s.Schedule();
  EXPECT_THAT(plan.admitted, ElementsAre(40, 3));
  EXPECT_THAT(ChunkIds(plan), ElementsAre(3, 7, 31, 40, 50));
}

TEST(Scheduler, RemoveWaitingRequest) {
  SchedulerOptions o = Options();
  o.max_batch = 1;
  Scheduler s(o);
  ASSERT_TRUE(s.Enqueue(1, Prompt(2), 1, 1).ok());
  ASSERT_TRUE(s.Enqueue(2, Prompt(2), 1, 1).ok());
  ASSERT_TRUE(s.Enqueue(3, Prompt(2), 1, 1).ok());
  EXPECT_FALSE(s.Remove(1));  // Waiting: false.
  EXPECT_FALSE(s.Remove(1));  // Unknown now.
  EXPECT_FALSE(s.IsWaiting(1));
  EXPECT_EQ(s.waiting(), 2);
  EXPECT_EQ(s.reserved_kv_blocks(), 0);
  EXPECT_THAT(s.WaitingIds(), ElementsAre(2, 3));
  // The stale queue entry of 1 is skipped.
  StepPlan plan = s.Schedule();
  EXPECT_THAT(plan.admitted, ElementsAre(2));
  EXPECT_THAT(ChunkIds(plan), ElementsAre(2));
  EXPECT_EQ(s.waiting(), 1);
  // Remove 3 while waiting behind a running request, then free the slot.
  EXPECT_FALSE(s.Remove(3));
  EXPECT_TRUE(s.Remove(2));
  EXPECT_TRUE(s.Schedule().empty());
  EXPECT_EQ(s.waiting(), 0);
  EXPECT_EQ(s.running(), 0);
  EXPECT_EQ(s.reserved_kv_blocks(), 0);
}

TEST(Scheduler, RemoveRunningRequestFreesSlotAndBlocks) {
  SchedulerOptions o = Options();
  o.max_batch = 2;
  Scheduler s(o);
  ASSERT_TRUE(s.Enqueue(1, Prompt(8), 8, 1).ok());  // 4 blocks.
  ASSERT_TRUE(s.Enqueue(2, Prompt(4), 4, 1).ok());  // 2 blocks.
  StepPlan plan = s.Schedule();
  RunStep(s, plan);
  EXPECT_EQ(s.reserved_kv_blocks(), 6);
  EXPECT_TRUE(s.Remove(1));
  EXPECT_FALSE(s.IsRunning(1));
  EXPECT_EQ(s.running(), 1);
  EXPECT_EQ(s.reserved_kv_blocks(), 2);
  // A removed sequence is not planned, even with a token pending.
  plan = s.Schedule();
  EXPECT_THAT(ChunkIds(plan), ElementsAre(2));
  // Committing a plan that names a removed id, or appending to one, is
  // harmless.
  StepPlan stale;
  stale.chunks.push_back({.id = 1, .start = 0, .count = 3, .samples = true});
  s.CommitStep(stale);
  s.AppendToken(1, 5);
  EXPECT_FALSE(s.IsRunning(1));
  EXPECT_FALSE(s.IsWaiting(1));
  EXPECT_TRUE(s.Tokens(1).empty());
}

// Regression: a waiting request's queue entry stays after Remove; if the
// same id was queued again, that stale entry used to admit it ahead of
// requests that arrived earlier. (LlmEngine never reuses ids.)
TEST(Scheduler, ReenqueuedIdAfterRemoveKeepsItsNewArrivalOrder) {
  SchedulerOptions o = Options();
  o.max_batch = 1;
  Scheduler s(o);
  ASSERT_TRUE(s.Enqueue(1, Prompt(2), 1, 1).ok());
  ASSERT_TRUE(s.Enqueue(2, Prompt(2), 1, 1).ok());
  ASSERT_TRUE(s.Enqueue(3, Prompt(2), 1, 1).ok());
  s.Schedule();  // 1 runs; 2 and 3 wait.
  EXPECT_FALSE(s.Remove(2));
  ASSERT_TRUE(s.Enqueue(2, Prompt(2), 1, 1).ok());  // Now behind 3.
  EXPECT_TRUE(s.Remove(1));
  const StepPlan plan = s.Schedule();
  EXPECT_THAT(plan.admitted, ElementsAre(3));
}

// A seeded random workload of enqueues, cancellations and steps, driven as
// the engine drives the scheduler; checks the invariants every step.
TEST(Scheduler, RandomizedSimulationKeepsInvariants) {
  SchedulerOptions o;
  o.max_batch = 5;
  o.max_prefill_tokens_per_step = 16;
  o.kv_block_tokens = 4;
  o.kv_blocks = 40;
  o.max_context = 64;
  o.max_queue_size = 12;
  o.priority_levels = 3;
  ASSERT_TRUE(o.Validate().ok());
  Scheduler s(o);
  std::mt19937_64 rng(20240611);
  const auto uniform = [&](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };

  struct Model {
    int prompt = 0;
    int max_new = 0;
    int computed = 0;
    int blocks = 0;
    bool running = false;
  };
  std::map<RequestId, Model> live;
  RequestId next_id = 1;
  int accepted = 0, finished = 0, cancelled = 0, rejected = 0;

  const auto step_once = [&](bool allow_arrivals) {
    if (allow_arrivals) {
      for (int n = uniform(0, 3); n > 0; --n) {
        const int prompt = uniform(1, 40);
        const int max_new = uniform(0, std::min(24, o.max_context - prompt));
        const int priority = uniform(1, 3);
        const RequestId id = next_id++;
        const absl::Status status =
            s.Enqueue(id, Prompt(prompt), max_new, priority);
        if (status.ok()) {
          live[id] = {.prompt = prompt,
                      .max_new = max_new,
                      .blocks = (prompt + max_new + 3) / 4};
          ++accepted;
        } else {
          ASSERT_EQ(status.code(), absl::StatusCode::kResourceExhausted)
              << status;
          ASSERT_EQ(s.waiting(), o.max_queue_size);
          ++rejected;
        }
      }
      // Now and then a client cancels a random live request.
      if (!live.empty() && uniform(0, 9) == 0) {
        auto it = live.begin();
        std::advance(it, uniform(0, static_cast<int>(live.size()) - 1));
        ASSERT_EQ(s.Remove(it->first), it->second.running);
        live.erase(it);
        ++cancelled;
      }
    }

    const StepPlan plan = s.Schedule();
    ASSERT_LE(s.running(), o.max_batch);
    ASSERT_LE(s.reserved_kv_blocks(), o.kv_blocks);
    ASSERT_LE(plan.prefill_tokens, o.max_prefill_tokens_per_step);
    for (RequestId id : plan.admitted) {
      ASSERT_TRUE(live.contains(id));
      ASSERT_FALSE(live[id].running);
      live[id].running = true;
    }
    int reserved = 0, running = 0, waiting = 0;
    for (const auto& [id, m] : live) {
      ASSERT_EQ(s.IsRunning(id), m.running) << id;
      ASSERT_EQ(s.IsWaiting(id), !m.running) << id;
      if (m.running) {
        reserved += m.blocks;
        ++running;
      } else {
        ++waiting;
      }
    }
    ASSERT_EQ(s.reserved_kv_blocks(), reserved);
    ASSERT_EQ(s.running(), running);
    ASSERT_EQ(s.waiting(), waiting);
    // Progress: something runs whenever something is running or waiting.
    if (running + waiting > 0) {
      ASSERT_FALSE(plan.empty());
    }

    int prefill = 0, decode = 0;
    std::set<RequestId> seen;
    for (size_t i = 0; i < plan.chunks.size(); ++i) {
      const ScheduledChunk& c = plan.chunks[i];
      if (i > 0) {
        ASSERT_LT(plan.chunks[i - 1].id, c.id);
      }
      ASSERT_TRUE(seen.insert(c.id).second);
      ASSERT_TRUE(live.contains(c.id));
      const Model& m = live[c.id];
      ASSERT_TRUE(m.running);
      const int known = static_cast<int>(s.Tokens(c.id).size());
      ASSERT_EQ(c.start, m.computed);
      ASSERT_GE(c.count, 1);
      ASSERT_LE(c.start + c.count, known);
      ASSERT_EQ(c.samples, c.start + c.count == known);
      if (c.start >= m.prompt) {
        ASSERT_EQ(c.count, 1);
        ++decode;
      } else {
        ASSERT_LE(c.start + c.count, m.prompt);
        prefill += c.count;
      }
    }
    ASSERT_EQ(plan.prefill_tokens, prefill);
    ASSERT_EQ(plan.decode_tokens, decode);

    // Every running sequence past its prompt decodes every step.
    for (const auto& [id, m] : live) {
      if (m.running && m.computed >= m.prompt) {
        ASSERT_TRUE(seen.contains(id)) << "decode of " << id << " stalled";
      }
    }

    s.CommitStep(plan);
    for (const ScheduledChunk& c : plan.chunks) {
      Model& m = live[c.id];
      m.computed = c.start + c.count;
      if (!c.samples) continue;
      if (s.GeneratedTokens(c.id) >= m.max_new) {
        ASSERT_TRUE(s.Remove(c.id));
        live.erase(c.id);
        ++finished;
      } else {
        s.AppendToken(c.id, uniform(0, 50000));
        if (s.GeneratedTokens(c.id) >= m.max_new) {
          ASSERT_TRUE(s.Remove(c.id));
          live.erase(c.id);
          ++finished;
        }
      }
    }
  };

  for (int step = 0; step < 400; ++step) {
    SCOPED_TRACE(step);
    step_once(true);
    if (testing::Test::HasFatalFailure()) return;
  }
  // No more arrivals: everything left finishes in bounded steps.
  int drain_steps = 0;
  while (!live.empty()) {
    ASSERT_LT(drain_steps++, 1000) << live.size() << " requests never finish";
    step_once(false);
    if (testing::Test::HasFatalFailure()) return;
  }
  EXPECT_EQ(accepted, finished + cancelled);
  EXPECT_GT(finished, 100);
  EXPECT_GT(rejected, 0);  // The workload did fill the queue.
  EXPECT_EQ(s.running(), 0);
  EXPECT_EQ(s.waiting(), 0);
  EXPECT_EQ(s.reserved_kv_blocks(), 0);
}

}  // namespace
}  // namespace fxserve::server::llm
