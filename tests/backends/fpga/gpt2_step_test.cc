// The step top (kernels/top/gpt2_step.h), fed through the host's packer
// and launch planner and run by the emulated card's runner on plain byte
// buffers, gives the CPU backend's logits bit for bit: every build of the
// tiny shape, batches that mix prefill chunks and decodes, prompts longer
// than one launch.
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <tuple>
#include <vector>

#include "backends/backend.h"
#include "backends/fpga/emulation/card_runners.h"
#include "backends/fpga/gpt2_card.h"
#include "backends/fpga/gpt2_device_image.h"
#include "backends/fpga/gpt2_step_plan.h"
#include "backends/kv_block_table.h"
#include "gtest/gtest.h"
#include "tests/backends/random_models.h"

namespace fxserve::backends::fpga {
namespace {

using model::QuantizedGpt2;
using model::ScaleKind;

using testing::RandomTokens;

const QuantizedGpt2& Quantized(int bits, ScaleKind scales) {
  return testing::QuantizedRandomGpt2(testing::TinyGpt2Config(), bits, scales);
}

// The card's side of a backend, on host memory: device buffers as bytes,
// the planner and the runner, as FpgaBackend does through XRT.
class HostCard {
 public:
  HostCard(const QuantizedGpt2& q, int kv_blocks, int block_tokens)
      : table_(kv_blocks, block_tokens, q.config.n_positions) {
    auto image = PackGpt2DeviceImage(q);
    EXPECT_TRUE(image.ok()) << image.status();
    auto build = Gpt2BuildName(q);
    EXPECT_TRUE(build.ok()) << build.status();
    auto runner = CreateCardKernelRunner(Gpt2CardManifest(*build));
    EXPECT_TRUE(runner.ok()) << runner.status();
    runner_ = *std::move(runner);
    kernel_ = Gpt2CardManifest(*build).kernels[0];
    geometry_.block_tokens = block_tokens;
    geometry_.kv_blocks = kv_blocks;
    geometry_.table_stride =
        (q.config.n_positions + block_tokens - 1) / block_tokens;
    vocab_ = q.config.vocab_size;
    vocab_padded_ = image->dims.vocab_padded;
    buffers_[kArgEmb] = image->emb;
    buffers_[kArgAttn] = image->attn;
    buffers_[kArgMlp] = image->mlp;
    buffers_[kArgHead] = image->head;
    buffers_[kArgKv].assign(
        device::KvLayout{image->dims, block_tokens}.block_bytes() * kv_blocks,
        0);
    buffers_[kArgStep].assign(
        4 * device::step::BufferWords(geometry_.table_stride), 0);
    buffers_[kArgLogits].assign(
        4ull * device::kMaxLogitRows * vocab_padded_ + device::kWordBytes, 0);
  }

  absl::Status Step(absl::Span<const SequenceInput> inputs, StepOutput& out) {
    if (absl::Status s = table_.Check(inputs, vocab_, 64); !s.ok()) return s;
    std::vector<int> lengths;
    for (const SequenceInput& in : inputs)
      lengths.push_back(table_.Length(in.id));
    table_.Reserve(inputs);
    std::vector<const std::vector<int>*> tables;
    for (const SequenceInput& in : inputs)
      tables.push_back(&table_.Blocks(in.id));
    out.vocab_size = vocab_;
    out.logits.assign(inputs.size(), {});
    for (size_t i = 0; i < inputs.size(); ++i) {
      const int rows = inputs[i].all_logits ? inputs[i].tokens.size() : 1;
      out.logits[i].assign(size_t(rows) * vocab_, 0);
    }
    for (const Gpt2Launch& launch :
         PlanGpt2Launches(inputs, lengths, tables, geometry_)) {
      std::vector<int32_t> descriptor = launch.descriptor;
      descriptor[device::step::kLaunchId] = ++launches_;
      std::memcpy(buffers_[kArgStep].data(), descriptor.data(),
                  4 * descriptor.size());
      std::vector<ArgValue> args(kGpt2StepArgs);
      for (int a = 0; a < kGpt2StepArgs; ++a)
        args[a].bytes = absl::MakeSpan(buffers_[a]);
      if (absl::Status s = runner_->Run(kernel_, args); !s.ok()) return s;
      const int32_t* status =
          reinterpret_cast<const int32_t*>(buffers_[kArgStep].data());
      EXPECT_EQ(status[device::step::kDone], launches_);
      EXPECT_EQ(status[device::step::kBadEntries], 0);
      EXPECT_EQ(status[device::step::kClamped], 0);
      const int32_t* logits =
          reinterpret_cast<const int32_t*>(buffers_[kArgLogits].data());
      EXPECT_EQ(logits[launch.rows.size() * vocab_padded_], launches_);
      for (size_t r = 0; r < launch.rows.size(); ++r) {
        const LogitsTarget& t = launch.rows[r];
        std::memcpy(&out.logits[t.input][size_t(t.row) * vocab_],
                    logits + r * vocab_padded_, 4ull * vocab_);
      }
    }
    for (const SequenceInput& in : inputs)
      table_.Advance(in.id, in.tokens.size());
    return absl::OkStatus();
  }

  int launches() const { return launches_; }

 private:
  KvBlockTable table_;
  StepGeometry geometry_;
  std::unique_ptr<KernelRunner> runner_;
  KernelManifest kernel_;
  std::vector<uint8_t> buffers_[kGpt2StepArgs];
  int vocab_ = 0, vocab_padded_ = 0, launches_ = 0;
};

class StepTopMatchesCpu
    : public ::testing::TestWithParam<std::pair<int, ScaleKind>> {};

TEST_P(StepTopMatchesCpu, MixedBatchesBitForBit) {
  const QuantizedGpt2& q = Quantized(GetParam().first, GetParam().second);
  BackendOptions options;
  options.kv_blocks = 256;
  auto cpu = CreateBackend("cpu", q, options);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  HostCard card(q, 256, options.kv_block_tokens);
  // Step 1: three prompts (one longer than a chunk, one with all logits).
  // Step 2: decodes of two of them plus a new prompt. Step 3: decodes.
  const std::vector<int> p0 = RandomTokens(21, 2), p1 = RandomTokens(3, 3),
                         p2 = RandomTokens(17, 4), p3 = RandomTokens(5, 5);
  const int d0 = 11, d1 = 222, d2 = 3333;
  const std::vector<std::vector<SequenceInput>> steps = {
      {{1, p0, false}, {2, p1, true}, {3, p2, false}},
      {{1, {&d0, 1}, false}, {4, p3, true}, {3, {&d1, 1}, false}},
      {{4, {&d2, 1}, false}, {2, {&d0, 1}, false}, {1, {&d1, 1}, true}},
  };
  for (size_t s = 0; s < steps.size(); ++s) {
    StepOutput want, got;
    ASSERT_TRUE((*cpu)->Step(steps[s], want).ok());
    ASSERT_TRUE(card.Step(steps[s], got).ok());
    ASSERT_EQ(got.logits.size(), want.logits.size());
    for (size_t i = 0; i < want.logits.size(); ++i) {
      EXPECT_EQ(got.logits[i], want.logits[i])
          << "step " << s << " input " << i;
    }
  }
}

TEST(StepTop, LongPromptWithAllLogitsSpansLaunches) {
  const QuantizedGpt2& q = Quantized(8, ScaleKind::kPow2);
  auto cpu = CreateBackend("cpu", q, {});
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  HostCard card(q, 64, 16);
  const std::vector<int> prompt = RandomTokens(100, 7);  // 100 rows > 64.
  const SequenceInput in{9, prompt, true};
  StepOutput want, got;
  ASSERT_TRUE((*cpu)->Step({&in, 1}, want).ok());
  ASSERT_TRUE(card.Step({&in, 1}, got).ok());
  EXPECT_EQ(card.launches(), 2);
  EXPECT_EQ(got.logits, want.logits);
}

INSTANTIATE_TEST_SUITE_P(AllTinyBuilds, StepTopMatchesCpu,
                         ::testing::Values(std::make_pair(8, ScaleKind::kPow2),
                                           std::make_pair(8, ScaleKind::kFixed),
                                           std::make_pair(4, ScaleKind::kPow2),
                                           std::make_pair(4,
                                                          ScaleKind::kFixed)));

}  // namespace
}  // namespace fxserve::backends::fpga
