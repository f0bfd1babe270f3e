// Models for backend tests: GPT-2-shaped random weights, quantized once per
// (shape, weight bits, scales) and cached for the test binary's life.
#ifndef FXSERVE_TESTS_BACKENDS_RANDOM_MODELS_H_
#define FXSERVE_TESTS_BACKENDS_RANDOM_MODELS_H_

#include <cstdint>
#include <map>
#include <random>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "model/gpt2_config.h"
#include "model/quantized_gpt2.h"
#include "model/random_gpt2.h"
#include "tools/quantize/gpt2_quantizer.h"

namespace fxserve::testing {

// models/tiny-gpt2's shape (the kernels' tiny build).
inline model::Gpt2Config TinyGpt2Config() {
  model::Gpt2Config c;
  c.n_positions = 256;
  c.n_embd = 128;
  c.n_layer = 4;
  c.n_head = 4;
  c.n_inner = 512;
  return c;
}

// n token ids in [0, 50257), the same for the same seed.
inline std::vector<int> RandomTokens(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int> tokens(n);
  for (int& t : tokens) t = static_cast<int>(rng() % 50257);
  return tokens;
}

// Random weights (seed 17) quantized with 200 calibration tokens.
inline const model::QuantizedGpt2& QuantizedRandomGpt2(
    const model::Gpt2Config& config, int bits, model::ScaleKind scales) {
  static std::map<std::tuple<int, int, model::ScaleKind>, model::QuantizedGpt2>
      cache;
  const auto key = std::make_tuple(config.n_embd, bits, scales);
  auto it = cache.find(key);
  if (it == cache.end()) {
    quantize::QuantizeOptions options;
    options.weight_bits = bits;
    options.scales = scales;
    auto q = quantize::QuantizeGpt2(model::RandomGpt2Weights(config, 17),
                                    RandomTokens(200, 1), options);
    EXPECT_TRUE(q.ok()) << q.status();
    it = cache.emplace(key, *std::move(q)).first;
  }
  return it->second;
}

}  // namespace fxserve::testing

#endif  // FXSERVE_TESTS_BACKENDS_RANDOM_MODELS_H_
