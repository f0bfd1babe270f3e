// GPT-2 by C-simulation of the kernel dataflow tops (kernels/top/): the
// HLS code itself, compiled for the host. It is the golden model that the
// CPU backend and the FPGA must match bit for bit, and slow (see
// bench/csim_bench.cc). One instantiation per model shape, weight width and
// scale kind, as on hardware: a quantized model of another shape is
// rejected with the list of supported ones.
#ifndef FXSERVE_BACKENDS_CSIM_GPT2_CSIM_H_
#define FXSERVE_BACKENDS_CSIM_GPT2_CSIM_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/quantized_gpt2.h"

namespace fxserve::backends::csim {

// Logits leave the tops as int32 codes with this many fraction bits.
// (kernels/top/gpt2_numerics.h: kLogitFrac; checked in gpt2_csim.cc.)
constexpr int kLogitFracBits = 16;

class Gpt2CSim {
 public:
  // One sequence's KV cache (int8 codes) and length.
  class Sequence {
   public:
    virtual ~Sequence() = default;
    int length() const { return length_; }

   protected:
    int length_ = 0;
    friend class Gpt2CSim;
  };

  // Copies the model into the tops' parameter layout. InvalidArgument for
  // an unsupported shape or a code out of its format's range.
  static absl::StatusOr<std::unique_ptr<Gpt2CSim>> Create(
      const model::QuantizedGpt2& model);

  virtual ~Gpt2CSim() = default;

  const model::Gpt2Config& config() const { return config_; }
  virtual std::unique_ptr<Sequence> NewSequence() const = 0;

  // Runs `tokens` after the sequence's tokens: one token with the decode
  // top, more in prefill chunks of up to 16. Returns the raw logits
  // [vocab] of the last token, or of every token when all_positions.
  // InvalidArgument for no tokens, a token outside the vocabulary, or a
  // context longer than n_positions (the sequence is then unchanged).
  // Thread-compatible: concurrent calls need distinct sequences.
  absl::StatusOr<std::vector<int32_t>> ForwardRaw(
      Sequence& sequence, absl::Span<const int> tokens,
      bool all_positions = false) const;
  // The same logits as floats: raw * 2^-16, exact.
  absl::StatusOr<std::vector<float>> Forward(Sequence& sequence,
                                             absl::Span<const int> tokens,
                                             bool all_positions = false) const;

 protected:
  explicit Gpt2CSim(const model::Gpt2Config& config) : config_(config) {}
  // Runs n <= 16 tokens (validated) at sequence.length(); writes each
  // token's vocab logits to logits (rows of config().vocab_size).
  virtual void RunTops(Sequence& sequence, const int* tokens, int n,
                       int32_t* logits) const = 0;
  static void Advance(Sequence& sequence, int n) { sequence.length_ += n; }

 private:
  model::Gpt2Config config_;
};

}  // namespace fxserve::backends::csim

#endif  // FXSERVE_BACKENDS_CSIM_GPT2_CSIM_H_
