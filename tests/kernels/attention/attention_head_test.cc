// Causal attention head with KV cache: against double precision on random
// int8 q/k/v, causality (cache contents past pos never matter), the
// out-of-range rule, and pinned golden outputs.
#include "kernels/attention/attention_head.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace fxserve::kernels {
namespace {

using Config = AttentionHeadConfigExample;
constexpr int kD = Config::kHeadDim;
constexpr int kP = Config::kMaxPositions;
using qkv_t = Config::qkv_t;

struct Sequence {
  std::vector<std::vector<int>> q, k, v;  // [pos][dim]
};

Sequence RandomSequence(int length, uint32_t seed) {
  std::mt19937 rng(seed);
  Sequence s;
  for (auto* m : {&s.q, &s.k, &s.v}) {
    m->assign(length, std::vector<int>(kD));
    for (auto& row : *m) {
      for (int& x : row) x = static_cast<int>(rng() % 256) - 128;
    }
  }
  return s;
}

std::vector<double> Reference(const Sequence& s, int pos) {
  std::vector<double> scores(pos + 1), out(kD, 0.0);
  double max_score = -1e300, sum = 0;
  for (int t = 0; t <= pos; ++t) {
    long long dot = 0;
    for (int j = 0; j < kD; ++j) dot += s.q[pos][j] * s.k[t][j];
    scores[t] = std::ldexp(static_cast<double>(dot), -Config::kScoreFrac);
    scores[t] = std::fmin(31.999, std::fmax(-32.0, scores[t]));  // input_t.
    max_score = std::fmax(max_score, scores[t]);
  }
  for (double& x : scores) sum += (x = std::exp(x - max_score));
  for (int t = 0; t <= pos; ++t) {
    for (int j = 0; j < kD; ++j) out[j] += scores[t] / sum * s.v[t][j];
  }
  return out;
}

// Runs every position of `s` through the kernel; returns outputs [pos][dim].
std::vector<std::vector<double>> RunKernel(const Sequence& s) {
  static qkv_t k_cache[kP][kD], v_cache[kP][kD];
  std::vector<std::vector<double>> outs;
  for (size_t pos = 0; pos < s.q.size(); ++pos) {
    qkv_t q[kD], k[kD], v[kD];
    Config::out_t out[kD];
    for (int j = 0; j < kD; ++j) {
      q[j] = s.q[pos][j];
      k[j] = s.k[pos][j];
      v[j] = s.v[pos][j];
    }
    AttentionHeadStep<Config>(q, k, v, k_cache, v_cache, pos, out);
    outs.emplace_back(kD);
    for (int j = 0; j < kD; ++j) outs.back()[j] = out[j].to_double();
  }
  return outs;
}

TEST(AttentionHead, MatchesDoublePrecisionWithinBound) {
  double max_error = 0;
  for (uint32_t seed = 0; seed < 3; ++seed) {
    // Small q keeps scores in a realistic range (|score| of a few units).
    Sequence s = RandomSequence(96, seed);
    for (auto& row : s.q) {
      for (int& x : row) x /= 16;
    }
    const auto got = RunKernel(s);
    for (int pos = 0; pos < 96; ++pos) {
      const auto expected = Reference(s, pos);
      for (int j = 0; j < kD; ++j) {
        const double error = std::abs(got[pos][j] - expected[j]);
        max_error = std::max(max_error, error);
        ASSERT_LE(error, 0.04) << "pos " << pos << " dim " << j;
      }
    }
  }
  std::printf("attention max abs error %.4f (output LSB %.4f)\n", max_error,
              1.0 / 256);
}

TEST(AttentionHead, CachePastPosDoesNotMatter) {
  static qkv_t k_a[kP][kD], v_a[kP][kD], k_b[kP][kD], v_b[kP][kD];
  std::mt19937 rng(3);
  for (int t = 0; t < kP; ++t) {
    for (int j = 0; j < kD; ++j) {
      k_a[t][j] = k_b[t][j] = static_cast<int>(rng() % 256) - 128;
      v_a[t][j] = v_b[t][j] = static_cast<int>(rng() % 256) - 128;
      if (t > 10) {  // Different garbage after position 10.
        k_b[t][j] = 127;
        v_b[t][j] = -128;
      }
    }
  }
  qkv_t q[kD], k[kD], v[kD];
  for (int j = 0; j < kD; ++j) q[j] = k[j] = v[j] = j - 32;
  Config::out_t out_a[kD], out_b[kD];
  AttentionHeadStep<Config>(q, k, v, k_a, v_a, 10, out_a);
  AttentionHeadStep<Config>(q, k, v, k_b, v_b, 10, out_b);
  for (int j = 0; j < kD; ++j) {
    EXPECT_EQ(out_a[j].to_double(), out_b[j].to_double()) << j;
  }
}

TEST(AttentionHead, OutOfRangePositionWritesNothing) {
  // A known pattern, not the initial contents: default-constructed values
  // are arbitrary under FXSERVE_HLS_POISON_INIT, as in hardware.
  static qkv_t k_cache[kP][kD], v_cache[kP][kD];
  for (int t = 0; t < kP; ++t) {
    for (int j = 0; j < kD; ++j) {
      k_cache[t][j] = (t + j) % 7 - 3;
      v_cache[t][j] = (t * j) % 11 - 5;
    }
  }
  qkv_t q[kD], k[kD], v[kD];
  Config::out_t out[kD];
  for (int j = 0; j < kD; ++j) q[j] = k[j] = v[j] = 5;
  for (int pos : {-1, kP, kP + 100}) {
    AttentionHeadStep<Config>(q, k, v, k_cache, v_cache, pos, out);
    for (int j = 0; j < kD; ++j) ASSERT_EQ(out[j].to_double(), 0.0);
  }
  for (int t = 0; t < kP; ++t) {
    for (int j = 0; j < kD; ++j) {
      ASSERT_EQ(k_cache[t][j].to_int(), (t + j) % 7 - 3);
      ASSERT_EQ(v_cache[t][j].to_int(), (t * j) % 11 - 5);
    }
  }
}

TEST(AttentionHead, SinglePositionReturnsItsValue) {
  // With one position the softmax is exactly 1: out = v exactly.
  static qkv_t k_cache[kP][kD], v_cache[kP][kD];
  qkv_t q[kD], k[kD], v[kD];
  Config::out_t out[kD];
  for (int j = 0; j < kD; ++j) {
    q[j] = 100 - j;
    k[j] = j;
    v[j] = 3 * j - 96;
  }
  AttentionHeadStep<Config>(q, k, v, k_cache, v_cache, 0, out);
  for (int j = 0; j < kD; ++j) EXPECT_EQ(out[j].to_double(), 3 * j - 96);
}

TEST(AttentionHead, GoldenOutputsArePinned) {
  Sequence s = RandomSequence(6, 42);
  for (auto& row : s.q) {
    for (int& x : row) x /= 8;
  }
  const auto got = RunKernel(s);
  // Raw output codes (x 2^-8) at the last position, dims 0..5.
  const int kGolden[6] = {8785, 22207, -27638, 31462, 30279, 9042};
  for (int j = 0; j < 6; ++j) {
    EXPECT_EQ(static_cast<int>(std::lround(got[5][j] * 256)), kGolden[j])
        << "dim " << j;
  }
}

}  // namespace
}  // namespace fxserve::kernels
