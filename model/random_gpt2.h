// GPT-2 weights drawn at random the way GPT-2 initialises them, for tests
// and benchmarks that need a model of a given shape but not a trained one.
#ifndef FXSERVE_MODEL_RANDOM_GPT2_H_
#define FXSERVE_MODEL_RANDOM_GPT2_H_

#include <cstdint>

#include "model/gpt2_config.h"
#include "model/gpt2_weights.h"

namespace fxserve::model {

// N(0, 0.02) matrices and embeddings (wpe 0.01), residual projections
// scaled by 1/sqrt(2 n_layer), zero biases, LayerNorm gain 1 and bias 0.
// Deterministic for a seed.
Gpt2Weights RandomGpt2Weights(const Gpt2Config& config, uint64_t seed);

}  // namespace fxserve::model

#endif  // FXSERVE_MODEL_RANDOM_GPT2_H_
