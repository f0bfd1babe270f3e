#include "model/tokenizer/bpe_merger.h"

#include <algorithm>

namespace fxserve::model {
namespace {

constexpr int kNone = -1;

using Candidate = BpeMerger::Workspace::Candidate;

// Heap order: the top is the lowest rank, and the leftmost among equals.
bool ComesLater(const Candidate& a, const Candidate& b) {
  if (a.rank != b.rank) return a.rank > b.rank;
  return a.left_node > b.left_node;
}

}  // namespace

bool BpeMerger::AddRule(int left, int right, int rank, int merged) {
  return rules_.try_emplace(PairKey(left, right), Rule{rank, merged}).second;
}

void BpeMerger::PushCandidate(const std::vector<int>& tokens, int left_node,
                              Workspace& workspace) const {
  const int right_node = workspace.next_node[left_node];
  if (right_node == kNone) return;
  const auto rule = rules_.find(PairKey(tokens[left_node], tokens[right_node]));
  if (rule == rules_.end()) return;
  workspace.heap.push_back(
      {rule->second.rank, left_node, tokens[left_node], tokens[right_node]});
  std::push_heap(workspace.heap.begin(), workspace.heap.end(), ComesLater);
}

// The word is a linked list of nodes, one per initial token; a merge folds
// the right node into the left one, so a node keeps its place in the word.
// The heap holds every adjacent pair that has a rule, as it was when it
// formed; entries whose nodes have changed since are dropped when popped.
void BpeMerger::Apply(std::vector<int>& tokens, Workspace& workspace) const {
  const int size = static_cast<int>(tokens.size());
  if (size < 2) return;
  std::vector<int>& next = workspace.next_node;
  std::vector<int>& prev = workspace.prev_node;
  next.resize(size);
  prev.resize(size);
  for (int node = 0; node < size; ++node) {
    next[node] = node + 1 < size ? node + 1 : kNone;
    prev[node] = node - 1;
  }
  workspace.heap.clear();
  for (int node = 0; node + 1 < size; ++node) {
    PushCandidate(tokens, node, workspace);
  }

  // A merged token is longer than either part, so merging never recreates
  // the pair being merged, and a stale entry never matches again.
  const auto still_adjacent = [&](const Candidate& candidate) {
    if (tokens[candidate.left_node] != candidate.left_token) return false;
    const int right_node = next[candidate.left_node];
    return right_node != kNone && tokens[right_node] == candidate.right_token;
  };

  std::vector<Candidate>& same_rank = workspace.same_rank;
  while (!workspace.heap.empty()) {
    // One pass: every current pair of the lowest rank, leftmost first.
    const int rank = workspace.heap.front().rank;
    same_rank.clear();
    while (!workspace.heap.empty() && workspace.heap.front().rank == rank) {
      std::pop_heap(workspace.heap.begin(), workspace.heap.end(), ComesLater);
      if (still_adjacent(workspace.heap.back())) {
        same_rank.push_back(workspace.heap.back());
      }
      workspace.heap.pop_back();
    }
    if (same_rank.empty()) continue;

    // Encoder.js merges the pair of the rightmost occurrence; other pairs of
    // this rank (possible only through comma aliases) wait for a later pass.
    const Candidate chosen = same_rank.back();
    const int merged =
        rules_.find(PairKey(chosen.left_token, chosen.right_token))
            ->second.merged;
    for (const Candidate& candidate : same_rank) {
      if (candidate.left_token != chosen.left_token ||
          candidate.right_token != chosen.right_token) {
        workspace.heap.push_back(candidate);
        std::push_heap(workspace.heap.begin(), workspace.heap.end(),
                       ComesLater);
        continue;
      }
      // Skip an occurrence that overlaps the one merged just before it.
      if (!still_adjacent(candidate)) continue;
      const int left_node = candidate.left_node;
      const int right_node = next[left_node];
      tokens[left_node] = merged;
      tokens[right_node] = kNone;
      next[left_node] = next[right_node];
      if (next[right_node] != kNone) prev[next[right_node]] = left_node;
      if (prev[left_node] != kNone) {
        PushCandidate(tokens, prev[left_node], workspace);
      }
      PushCandidate(tokens, left_node, workspace);
    }
  }

  // Node 0 is never folded away, so the list starts there.
  int kept = 0;
  for (int node = 0; node != kNone; node = next[node]) {
    tokens[kept++] = tokens[node];
  }
  tokens.resize(kept);
}

}  // namespace fxserve::model
