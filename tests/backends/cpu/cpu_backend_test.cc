// The CPU backend gives the bits of the kernel C-simulation, for prefill
// and many decode steps, whatever the batch, its composition, the thread
// count or the ISA path; and it handles bad steps without side effects.
#include "backends/cpu/cpu_backend.h"

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backends/backend.h"
#include "backends/cpu/int8_matmul.h"
#include "gtest/gtest.h"
#include "tests/backends/random_models.h"

namespace fxserve::backends {
namespace {

using model::QuantizedGpt2;
using model::ScaleKind;
using Logits = std::vector<int32_t>;

using testing::RandomTokens;

model::Gpt2Config TinyConfig() { return testing::TinyGpt2Config(); }

const QuantizedGpt2& Quantized(const model::Gpt2Config& config, int bits,
                               ScaleKind scales) {
  return testing::QuantizedRandomGpt2(config, bits, scales);
}

std::unique_ptr<Backend> Make(const std::string& name, const QuantizedGpt2& q,
                              BackendOptions options = {}) {
  auto backend = CreateBackend(name, q, options);
  EXPECT_TRUE(backend.ok()) << backend.status();
  return backend.ok() ? *std::move(backend) : nullptr;
}

// Runs a prompt (prefill, all logits) then `steps` decode steps feeding
// fixed tokens; returns every logit row in order.
std::vector<Logits> RunSequence(Backend& backend, SequenceId id,
                                const std::vector<int>& prompt,
                                const std::vector<int>& decode) {
  std::vector<Logits> rows;
  StepOutput out;
  const SequenceInput first{id, prompt, true};
  EXPECT_TRUE(backend.Step({&first, 1}, out).ok());
  const size_t vocab = out.vocab_size;
  for (size_t r = 0; r < prompt.size(); ++r) {
    rows.emplace_back(out.logits[0].begin() + r * vocab,
                      out.logits[0].begin() + (r + 1) * vocab);
  }
  for (int token : decode) {
    const SequenceInput step{id, {&token, 1}, false};
    EXPECT_TRUE(backend.Step({&step, 1}, out).ok());
    rows.push_back(out.logits[0]);
  }
  return rows;
}

class CpuMatchesCSim
    : public ::testing::TestWithParam<std::pair<int, ScaleKind>> {};

TEST_P(CpuMatchesCSim, PrefillAndDecodeBitForBit) {
  const QuantizedGpt2& q =
      Quantized(TinyConfig(), GetParam().first, GetParam().second);
  auto cpu = Make("cpu", q);
  auto csim = Make("csim", q);
  ASSERT_TRUE(cpu && csim);
#ifdef FXSERVE_SANITIZED
  const std::vector<int> prompt = RandomTokens(5, 2);  // The csim is slow
  const std::vector<int> decode = RandomTokens(2, 3);  // under sanitizers.
#else
  const std::vector<int> prompt = RandomTokens(21, 2);
  const std::vector<int> decode = RandomTokens(12, 3);
#endif
  const auto expected = RunSequence(*csim, 1, prompt, decode);
  const auto got = RunSequence(*cpu, 1, prompt, decode);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t r = 0; r < got.size(); ++r) {
    ASSERT_EQ(got[r], expected[r]) << "logit row " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllBuilds, CpuMatchesCSim,
    ::testing::Values(std::make_pair(8, ScaleKind::kPow2),
                      std::make_pair(8, ScaleKind::kFixed),
                      std::make_pair(4, ScaleKind::kPow2),
                      std::make_pair(4, ScaleKind::kFixed)),
    [](const ::testing::TestParamInfo<std::pair<int, ScaleKind>>& build) {
      return absl::StrCat("W", build.param.first, "A8_",
                          model::ScaleKindName(build.param.second));
    });

// GPT-2 124M's shape: a prompt across the 16-token prefill chunk, then
// decode steps, W8A8 pow2 and W4A8 fixed.
TEST(CpuBackend, Gpt2SmallShapeMatchesCSim) {
  for (auto [bits, scales, decode_steps] :
       {std::make_tuple(8, ScaleKind::kPow2, 10),
        std::make_tuple(4, ScaleKind::kFixed, 2)}) {
    const QuantizedGpt2& q = Quantized(model::Gpt2Config{}, bits, scales);
    BackendOptions options;
    options.max_batch = 2;
    auto cpu = Make("cpu", q, options);
    auto csim = Make("csim", q, options);
    ASSERT_TRUE(cpu && csim);
    const std::vector<int> prompt = RandomTokens(18, 4);
    const std::vector<int> decode = RandomTokens(decode_steps, 5);
    const auto expected = RunSequence(*csim, 7, prompt, decode);
    const auto got = RunSequence(*cpu, 7, prompt, decode);
    ASSERT_EQ(got.size(), expected.size());
    for (size_t r = 0; r < got.size(); ++r) {
      ASSERT_EQ(got[r], expected[r]) << "W" << bits << "A8, logit row " << r;
    }
  }
}

// Each sequence's logits are the same alone or in batches of 1..32 mixed
// with other sequences at other positions, with 1 or 2 threads.
TEST(CpuBackend, BatchCompositionAndThreadsDoNotChangeBits) {
  const QuantizedGpt2& q = Quantized(TinyConfig(), 4, ScaleKind::kPow2);
  constexpr int kSequences = 32;
  std::vector<std::vector<int>> prompts, decodes;
  for (int s = 0; s < kSequences; ++s) {
    prompts.push_back(RandomTokens(1 + s % 7, 100 + s));
    decodes.push_back(RandomTokens(4, 200 + s));
  }
  // Alone, one thread.
  BackendOptions one_thread;
  one_thread.threads = 1;
  std::vector<std::vector<Logits>> alone;
  {
    auto cpu = Make("cpu", q, one_thread);
    ASSERT_NE(cpu, nullptr);
    for (int s = 0; s < kSequences; ++s) {
      alone.push_back(RunSequence(*cpu, s, prompts[s], decodes[s]));
      cpu->FreeSequence(s);
    }
  }
  for (int threads : {1, 2}) {
    for (int batch : {1, 3, 8, 32}) {
      BackendOptions options;
      options.threads = threads;
      options.max_batch = batch;
      auto cpu = Make("cpu", q, options);
      ASSERT_NE(cpu, nullptr);
      // Sequences in groups of `batch`; within a group, each step mixes
      // prefill rows of some with decode rows of others: sequence s starts
      // s % 3 steps late.
      for (int g0 = 0; g0 < kSequences; g0 += batch) {
        const int g1 = std::min(kSequences, g0 + batch);
        std::vector<std::vector<Logits>> got(kSequences);
        for (int step = 0; step < 4 + 3; ++step) {
          std::vector<SequenceInput> inputs;
          std::vector<int> owners;
          for (int s = g0; s < g1; ++s) {
            const int k = step - s % 3;  // 0: prompt, 1..4: decode.
            if (k < 0 || k > 4) continue;
            SequenceInput input{static_cast<SequenceId>(s), {}, k == 0};
            input.tokens = k == 0 ? absl::MakeConstSpan(prompts[s])
                                  : absl::MakeConstSpan(&decodes[s][k - 1], 1);
            inputs.push_back(input);
            owners.push_back(s);
          }
          if (inputs.empty()) continue;
          StepOutput out;
          ASSERT_TRUE(cpu->Step(inputs, out).ok());
          for (size_t i = 0; i < inputs.size(); ++i) {
            const size_t vocab = out.vocab_size;
            const Logits& rows = out.logits[i];
            for (size_t r = 0; r * vocab < rows.size(); ++r) {
              got[owners[i]].emplace_back(rows.begin() + r * vocab,
                                          rows.begin() + (r + 1) * vocab);
            }
          }
        }
        for (int s = g0; s < g1; ++s) {
          ASSERT_EQ(got[s], alone[s]) << "sequence " << s << ", batch " << batch
                                      << ", " << threads << " threads";
          cpu->FreeSequence(s);
        }
      }
      EXPECT_EQ(cpu->FreeKvBlocks(), cpu->capabilities().kv_blocks);
    }
  }
}

// Every ISA path the CPU has (forced by FXSERVE_CPU_ISA) gives the same
// bits.
TEST(CpuBackend, EveryIsaPathGivesTheSameBits) {
  const QuantizedGpt2& q = Quantized(TinyConfig(), 4, ScaleKind::kFixed);
  const std::vector<int> prompt = RandomTokens(9, 6),
                         decode = RandomTokens(5, 7);
  std::vector<std::vector<Logits>> results;
  for (cpu::Isa isa :
       {cpu::Isa::kScalar, cpu::Isa::kAvx2, cpu::Isa::kAvx512Vnni}) {
    if (!cpu::IsaSupported(isa)) continue;
    setenv("FXSERVE_CPU_ISA", cpu::IsaName(isa), 1);
    auto backend = Make("cpu", q);
    unsetenv("FXSERVE_CPU_ISA");
    ASSERT_NE(backend, nullptr);
    results.push_back(RunSequence(*backend, 1, prompt, decode));
  }
  ASSERT_GE(results.size(), 1u);
  for (size_t i = 1; i < results.size(); ++i) EXPECT_EQ(results[i], results[0]);
}

TEST(CpuBackend, BadStepsChangeNothing) {
  const QuantizedGpt2& q = Quantized(TinyConfig(), 8, ScaleKind::kPow2);
  BackendOptions options;
  options.max_batch = 4;
  options.kv_blocks = 20;  // 320 positions.
  auto cpu = Make("cpu", q, options);
  ASSERT_NE(cpu, nullptr);
  StepOutput out;
  const std::vector<int> ten = RandomTokens(10, 8);
  const SequenceInput a{1, ten, false};
  ASSERT_TRUE(cpu->Step({&a, 1}, out).ok());
  EXPECT_EQ(cpu->FreeKvBlocks(), 19);

  const std::vector<int> bad = {5, 50257};
  const SequenceInput bad_token[] = {{2, ten, false}, {3, bad, false}};
  EXPECT_EQ(cpu->Step(bad_token, out).code(),
            absl::StatusCode::kInvalidArgument);
  const SequenceInput twice[] = {{1, ten, false}, {1, ten, false}};
  EXPECT_EQ(cpu->Step(twice, out).code(), absl::StatusCode::kInvalidArgument);
  const std::vector<int> long_prompt = RandomTokens(247, 9);
  const SequenceInput overflow{1, long_prompt, false};
  EXPECT_EQ(cpu->Step({&overflow, 1}, out).code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<int> big = RandomTokens(200, 10),
                         big2 = RandomTokens(150, 11);
  const SequenceInput no_room[] = {{4, big, false}, {5, big2, false}};
  EXPECT_EQ(cpu->Step(no_room, out).code(),
            absl::StatusCode::kResourceExhausted);
  // Nothing changed: same lengths, same free blocks.
  EXPECT_EQ(cpu->SequenceLength(1), 10);
  EXPECT_EQ(cpu->SequenceLength(2), 0);
  EXPECT_EQ(cpu->FreeKvBlocks(), 19);
  cpu->FreeSequence(1);
  EXPECT_EQ(cpu->FreeKvBlocks(), 20);
  EXPECT_EQ(cpu->SequenceLength(1), 0);
}

TEST(CpuBackend, RegistryExplainsUnavailableBackends) {
  const QuantizedGpt2& q = Quantized(TinyConfig(), 8, ScaleKind::kPow2);
  auto fpga = CreateBackend("fpga", q, {});  // No card, no emulation.
  EXPECT_EQ(fpga.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(fpga.status().message()).find("--fpga-emulation"),
            std::string::npos);
  auto unknown = CreateBackend("gpu", q, {});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fxserve::backends
