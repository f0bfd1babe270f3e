#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"

namespace fxserve::model {

absl::Status SamplingOptions::Validate() const {
  if (!(temperature >= 0.0f) || !std::isfinite(temperature)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "temperature must be >= 0 (0 = greedy), got ", temperature));
  }
  if (top_k < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_k must be >= 0 (0 = off), got ", top_k));
  }
  if (!(top_p > 0.0f && top_p <= 1.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_p must be in (0, 1], got ", top_p));
  }
  return absl::OkStatus();
}

Sampler::Sampler(const SamplingOptions& options)
    : options_(options), rng_(options.seed) {}

double Sampler::Uniform() {
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

int Sampler::Sample(absl::Span<const float> logits) {
  const int n = static_cast<int>(logits.size());
  if (options_.temperature == 0.0f) {
    return static_cast<int>(std::max_element(logits.begin(), logits.end()) -
                            logits.begin());
  }
  // Candidates by descending logit, ties by index, so the order (and the
  // draw) never depends on the sort implementation.
  const int keep = options_.top_k > 0 ? std::min(options_.top_k, n) : n;
  const auto by_logit = [&](int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::vector<int> order;
  if (keep < n) {
    // Top-k in one pass over the logits in memory order: a heap of the k
    // best so far whose front is the worst of them (a server samples every
    // token of every stream, so this matters; a partial sort of an index
    // array reads the logits scattered).
    // Blocks whose largest logit is below the k-th best so far are skipped
    // after one vectorizable max (most of them, once the heap is full).
    constexpr int kBlock = 16;
    order.reserve(keep + 1);
    for (int base = 0; base < n; base += kBlock) {
      const int end = std::min(base + kBlock, n);
      if (static_cast<int>(order.size()) == keep) {
        float block_max = logits[base];
        for (int i = base + 1; i < end; ++i) {
          block_max = std::max(block_max, logits[i]);
        }
        if (block_max < logits[order.front()]) continue;
      }
      for (int i = base; i < end; ++i) {
        if (static_cast<int>(order.size()) < keep) {
          order.push_back(i);
          std::push_heap(order.begin(), order.end(), by_logit);
        } else if (by_logit(i, order.front())) {
          std::pop_heap(order.begin(), order.end(), by_logit);
          order.back() = i;
          std::push_heap(order.begin(), order.end(), by_logit);
        }
      }
    }
    std::sort(order.begin(), order.end(), by_logit);
  } else {
    order.resize(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), by_logit);
  }

  std::vector<double> weights(keep);
  const double top = logits[order[0]];
  double total = 0;
  for (int i = 0; i < keep; ++i) {
    weights[i] = std::exp((logits[order[i]] - top) / options_.temperature);
    total += weights[i];
  }
  // Nucleus: the shortest prefix whose probability reaches top_p.
  int cut = keep;
  if (options_.top_p < 1.0f) {
    double mass = 0;
    for (int i = 0; i < keep; ++i) {
      mass += weights[i] / total;
      if (mass >= options_.top_p) {
        cut = i + 1;
        break;
      }
    }
  }
  double cut_total = 0;
  for (int i = 0; i < cut; ++i) cut_total += weights[i];
  double target = Uniform() * cut_total;
  for (int i = 0; i < cut; ++i) {
    target -= weights[i];
    if (target < 0) return order[i];
  }
  return order[cut - 1];  // Rounding left a sliver: take the last kept.
}

}  // namespace fxserve::model
