#include "backends/csim/csim_backend.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "backends/csim/gpt2_csim.h"
#include "backends/kv_block_table.h"

namespace fxserve::backends::csim {
namespace {

class CSimBackend final : public Backend {
 public:
  CSimBackend(std::unique_ptr<Gpt2CSim> sim, BackendCapabilities caps)
      : sim_(std::move(sim)),
        caps_(std::move(caps)),
        table_(caps_.kv_blocks, caps_.kv_block_tokens, caps_.max_context) {}

  const BackendCapabilities& capabilities() const override { return caps_; }
  const model::Gpt2Config& config() const override { return sim_->config(); }
  int FreeKvBlocks() const override { return table_.free_blocks(); }
  int SequenceLength(SequenceId id) const override { return table_.Length(id); }

  absl::Status Step(absl::Span<const SequenceInput> inputs,
                    StepOutput& output) override {
    if (absl::Status s =
            table_.Check(inputs, sim_->config().vocab_size, caps_.max_batch);
        !s.ok()) {
      return s;
    }
    table_.Reserve(inputs);
    output.vocab_size = sim_->config().vocab_size;
    output.logits.clear();
    for (const SequenceInput& input : inputs) {
      auto& sequence = sequences_[input.id];
      if (sequence == nullptr) sequence = sim_->NewSequence();
      // Checked above, so this cannot fail.
      auto logits = sim_->ForwardRaw(*sequence, input.tokens, input.all_logits);
      if (!logits.ok()) return logits.status();
      table_.Advance(input.id, static_cast<int>(input.tokens.size()));
      output.logits.push_back(*std::move(logits));
    }
    return absl::OkStatus();
  }

  void FreeSequence(SequenceId id) override {
    sequences_.erase(id);
    table_.Free(id);
  }

 private:
  std::unique_ptr<Gpt2CSim> sim_;
  BackendCapabilities caps_;
  KvBlockTable table_;
  absl::flat_hash_map<SequenceId, std::unique_ptr<Gpt2CSim::Sequence>>
      sequences_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> CreateCSimBackend(
    const model::QuantizedGpt2& model, const BackendOptions& options) {
  auto sim = Gpt2CSim::Create(model);
  if (!sim.ok()) return sim.status();
  BackendCapabilities caps;
  caps.name = "csim";
  caps.detail = "HLS kernels in C-simulation, 1 thread";
  caps.max_batch = options.max_batch;
  caps.max_context = model.config.n_positions;
  caps.kv_block_tokens = options.kv_block_tokens;
  caps.kv_blocks = options.kv_blocks > 0
                       ? options.kv_blocks
                       : options.max_batch *
                             ((caps.max_context + caps.kv_block_tokens - 1) /
                              caps.kv_block_tokens);
  return std::make_unique<CSimBackend>(*std::move(sim), std::move(caps));
}

}  // namespace fxserve::backends::csim
