#include "backends/kv_block_table.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace fxserve::backends {

KvBlockTable::KvBlockTable(int blocks, int block_tokens, int max_context)
    : block_tokens_(block_tokens), max_context_(max_context) {
  free_.reserve(blocks);
  for (int b = blocks - 1; b >= 0; --b) free_.push_back(b);
}

int KvBlockTable::Length(SequenceId id) const {
  auto it = sequences_.find(id);
  return it == sequences_.end() ? 0 : it->second.length;
}

const std::vector<int>& KvBlockTable::Blocks(SequenceId id) const {
  return sequences_.at(id).blocks;
}

absl::Status KvBlockTable::Check(absl::Span<const SequenceInput> inputs,
                                 int vocab_size, int max_batch) const {
  if (inputs.empty()) return absl::InvalidArgumentError("the step is empty");
  if (static_cast<int>(inputs.size()) > max_batch) {
    return absl::InvalidArgumentError(
        absl::StrCat("the step has ", inputs.size(),
                     " sequences; this backend runs at most ", max_batch));
  }
  absl::flat_hash_set<SequenceId> seen;
  int needed_blocks = 0;
  for (const SequenceInput& input : inputs) {
    if (!seen.insert(input.id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("sequence ", input.id, " appears twice in one step"));
    }
    if (input.tokens.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("sequence ", input.id, " has no tokens to run"));
    }
    for (size_t t = 0; t < input.tokens.size(); ++t) {
      if (input.tokens[t] < 0 || input.tokens[t] >= vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat(
            "token id ", input.tokens[t], " at position ", t, " of sequence ",
            input.id, " is outside the vocabulary [0, ", vocab_size, ")"));
      }
    }
    const int length = Length(input.id);
    const int count = static_cast<int>(input.tokens.size());
    if (length + count > max_context_) {
      return absl::InvalidArgumentError(absl::StrCat(
          length, " tokens in context plus ", count,
          " new ones exceed the model's context of ", max_context_));
    }
    const int held = BlocksFor(length);
    needed_blocks += BlocksFor(length + count) - held;
  }
  if (needed_blocks > free_blocks()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the KV cache has ", free_blocks(), " free blocks of ", block_tokens_,
        " tokens; this step needs ", needed_blocks));
  }
  return absl::OkStatus();
}

void KvBlockTable::Reserve(absl::Span<const SequenceInput> inputs) {
  for (const SequenceInput& input : inputs) {
    Sequence& sequence = sequences_[input.id];
    const int want =
        BlocksFor(sequence.length + static_cast<int>(input.tokens.size()));
    while (static_cast<int>(sequence.blocks.size()) < want) {
      sequence.blocks.push_back(free_.back());
      free_.pop_back();
    }
  }
}

void KvBlockTable::Advance(SequenceId id, int n) {
  sequences_.at(id).length += n;
}

void KvBlockTable::Free(SequenceId id) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) return;
  for (int block : it->second.blocks) free_.push_back(block);
  sequences_.erase(it);
}

}  // namespace fxserve::backends
