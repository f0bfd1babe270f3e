// Byte-pair-encoding merges over token ids, with the exact merge order of
// gpt-3-encoder's Encoder.js (and of OpenAI's encoder.py).
#ifndef FXSERVE_MODEL_TOKENIZER_BPE_MERGER_H_
#define FXSERVE_MODEL_TOKENIZER_BPE_MERGER_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace fxserve::model {

// A table of merge rules "token `left` followed by token `right` becomes
// token `merged`", each with a rank, and the algorithm that applies them:
// while some adjacent pair has a rule, take the lowest rank, and merge every
// occurrence of that pair from left to right (an occurrence that overlaps
// one just merged is skipped: "a a a" becomes "aa a"). When several
// different pairs present share the lowest rank (Encoder.js's comma
// aliases, see gpt2_vocab.h), the pair of the rightmost occurrence goes
// first, as in Encoder.js.
//
// Rules must describe a real BPE vocabulary: `merged` is the token whose
// string is left's followed by right's (so it is longer than either).
//
// Runs in O(n log n) for a word of n tokens, so one very long word is fine.
//
// Thread safety: build the table first (AddRule), then call Apply from any
// number of threads, each with its own Workspace.
class BpeMerger {
 public:
  // Buffers that Apply reuses between calls, to avoid allocating per word.
  // Contents mean nothing between calls.
  struct Workspace {
    struct Candidate {
      int rank;
      int left_node;
      int left_token;
      int right_token;
    };
    std::vector<int> next_node;
    std::vector<int> prev_node;
    std::vector<Candidate> heap;
    std::vector<Candidate> same_rank;
  };

  // Adds a rule. Returns false, changing nothing, if the pair (left, right)
  // already has one. Lower ranks merge first.
  bool AddRule(int left, int right, int rank, int merged);

  // Merges `tokens` in place, by the rules above.
  void Apply(std::vector<int>& tokens, Workspace& workspace) const;

  int rule_count() const { return static_cast<int>(rules_.size()); }

 private:
  struct Rule {
    int rank;
    int merged;
  };

  static uint64_t PairKey(int left, int right) {
    return (uint64_t{static_cast<uint32_t>(left)} << 32) |
           static_cast<uint32_t>(right);
  }

  // Queues the pair that starts at `left_node` if it has a rule.
  void PushCandidate(const std::vector<int>& tokens, int left_node,
                     Workspace& workspace) const;

  absl::flat_hash_map<uint64_t, Rule> rules_;
};

}  // namespace fxserve::model

#endif  // FXSERVE_MODEL_TOKENIZER_BPE_MERGER_H_
