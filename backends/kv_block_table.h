// Which KV cache blocks each sequence holds, and how many tokens it has
// run: fixed-size blocks from one pool with an O(1) free list. Shared by
// the backends so that they validate a step the same way and report the
// same capacity; the CPU backend also uses the block ids to address its
// paged KV storage. Not thread-safe (owned by one backend).
#ifndef FXSERVE_BACKENDS_KV_BLOCK_TABLE_H_
#define FXSERVE_BACKENDS_KV_BLOCK_TABLE_H_

#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "backends/backend.h"

namespace fxserve::backends {

class KvBlockTable {
 public:
  KvBlockTable(int blocks, int block_tokens, int max_context);

  int free_blocks() const { return static_cast<int>(free_.size()); }
  int block_tokens() const { return block_tokens_; }
  int Length(SequenceId id) const;
  // Block ids of a known sequence, in position order.
  const std::vector<int>& Blocks(SequenceId id) const;

  // Checks a whole step before anything runs: at most max_batch inputs,
  // distinct ids, at least one token each, token ids in [0, vocab_size),
  // contexts within max_context, and enough free blocks for all of them.
  absl::Status Check(absl::Span<const SequenceInput> inputs, int vocab_size,
                     int max_batch) const;
  // Creates unknown sequences and gives each input's sequence the blocks
  // for its new tokens. Only after Check() passed.
  void Reserve(absl::Span<const SequenceInput> inputs);
  // Records that a sequence ran n more tokens (after Reserve).
  void Advance(SequenceId id, int n);
  void Free(SequenceId id);

 private:
  struct Sequence {
    int length = 0;
    std::vector<int> blocks;
  };
  int BlocksFor(int tokens) const {
    return (tokens + block_tokens_ - 1) / block_tokens_;
  }

  int block_tokens_;
  int max_context_;
  std::vector<int> free_;
  absl::flat_hash_map<SequenceId, Sequence> sequences_;
};

}  // namespace fxserve::backends

#endif  // FXSERVE_BACKENDS_KV_BLOCK_TABLE_H_
