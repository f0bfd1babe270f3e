// Builds safetensors files and GPT-2 model folders with random weights for
// tests, and an independent double-precision GPT-2 forward pass (no KV
// cache, no oneDNN, straight from the formulas) to check the reference by.
#ifndef FXSERVE_TESTS_MODEL_TEST_CHECKPOINT_H_
#define FXSERVE_TESTS_MODEL_TEST_CHECKPOINT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace fxserve::model::testing {

struct TestTensor {
  std::string dtype = "F32";  // F32, F16 or BF16 (F16/BF16 via `raw16`).
  std::vector<int64_t> shape;
  std::vector<float> values;    // For F32.
  std::vector<uint16_t> raw16;  // For F16 / BF16: the bit patterns.
};

// Serializes tensors (in name order) into safetensors bytes.
std::vector<uint8_t> SafetensorsBytes(
    const std::map<std::string, TestTensor>& tensors);

struct TinyShape {
  int vocab = 97, positions = 16, embd = 16, layers = 2, heads = 4;
};

// Random weights (normal, stddev 0.02 for matrices, LayerNorm gains near 1)
// under GPT2Model names.
std::map<std::string, std::vector<float>> RandomGpt2(const TinyShape& shape,
                                                     uint64_t seed);
std::string ConfigJson(const TinyShape& shape);

// Writes config.json and model.safetensors (F32) into a fresh temp folder
// and returns it. `prefix` is prepended to every tensor name.
std::string WriteModelDir(const TinyShape& shape,
                          const std::map<std::string, std::vector<float>>& w,
                          const std::string& prefix = "");

// Last-position logits of `tokens`, computed in double from the formulas.
std::vector<double> NaiveLogits(
    const TinyShape& shape, const std::map<std::string, std::vector<float>>& w,
    const std::vector<int>& tokens);

}  // namespace fxserve::model::testing

#endif  // FXSERVE_TESTS_MODEL_TEST_CHECKPOINT_H_
