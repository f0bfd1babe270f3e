// The CPU backend's integer matrix product: int8 activations times int8 or
// int4 weight codes, accumulated exactly in int32 (kernels/top/NUMERICS.md,
// "Linear": acc = sum_i x_i * w[o][i]). Kernels for several instruction
// sets are chosen at run time; every one gives the same integers, so
// results never depend on the ISA, the thread count or which tokens share
// a batch.
//
// Packed layout (PackedWeights): rows are grouped into panels of 16; a
// panel is one contiguous stream, and panels follow each other in row
// order. Inputs are zero padded to a multiple of 32. Codes are stored
// biased, as unsigned values u = w + B (B = 128 for int8, 8 for int4), so
// that AVX-512 VNNI's vpdpbusd (u8 x s8) takes weights as the unsigned and
// activations as the (broadcast) signed operand; the kernels subtract
// B * sum_i x[t][i] once per token, which is exact.
//   int8: panel = [padded_in / 4 groups][16 rows][4 inputs], one byte each:
//         one 64-byte cache line (one zmm) per group of 4 inputs.
//   int4: panel = [padded_in / 8 chunks][16 rows][4] bytes; byte (j, r, k)
//         holds u(w[r][8j + k]) in its low nibble and u(w[r][8j + 4 + k])
//         in its high nibble: 8 inputs of 16 rows per 64-byte line.
#ifndef FXSERVE_BACKENDS_CPU_INT8_MATMUL_H_
#define FXSERVE_BACKENDS_CPU_INT8_MATMUL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fxserve::backends::cpu {

enum class Isa { kScalar, kAvx2, kAvx512Vnni };

// "scalar", "avx2", "avx512vnni".
const char* IsaName(Isa isa);

// Whether this CPU (and OS) can run the kernels for `isa`. kScalar always.
bool IsaSupported(Isa isa);

// The best ISA this CPU supports, unless the environment variable
// FXSERVE_CPU_ISA (scalar|avx2|avx512vnni; empty counts as unset) asks
// for another: then that one, or InvalidArgument if the CPU lacks it or
// the name is unknown (the message lists the valid names and the ones this
// CPU supports).
absl::StatusOr<Isa> SelectIsa();

// The weights of one linear layer, [out][in] codes, repacked once into the
// layout above. int4 stays two codes per byte.
class PackedWeights {
 public:
  static constexpr int kMaxIn = 8192;    // Keeps every int32 sum exact.
  static constexpr int kPanelRows = 16;  // Rows per contiguous panel.
  static constexpr int kInAlign = 32;    // Inputs are padded to this.

  // w holds out * in codes, row-major [out][in]: int8 codes for bits == 8,
  // codes in -8..7 for bits == 4. InvalidArgument for bits other than 4 or
  // 8, out < 1, in outside [1, kMaxIn], w.size() != out * in, or an int4
  // code out of range.
  static absl::StatusOr<PackedWeights> Pack(absl::Span<const int8_t> w, int out,
                                            int in, int bits);

  PackedWeights(PackedWeights&&) noexcept = default;
  PackedWeights& operator=(PackedWeights&&) noexcept = default;
  PackedWeights(const PackedWeights&) = delete;
  PackedWeights& operator=(const PackedWeights&) = delete;

  int out() const { return out_; }
  int in() const { return in_; }
  int bits() const { return bits_; }
  // Bytes of packed weight storage (padding included): what a product
  // streams from memory.
  size_t bytes() const { return panel_bytes_ * static_cast<size_t>(panels_); }

  // The codes back as [out][in] (for tests and debugging).
  std::vector<int8_t> Unpack() const;

  // Layout, for the kernels.
  int padded_in() const { return padded_in_; }
  int panels() const { return panels_; }
  size_t panel_bytes() const { return panel_bytes_; }
  const uint8_t* data() const { return data_.get(); }
  int code_bias() const { return bits_ == 8 ? 128 : 8; }  // u = w + bias.

 private:
  struct Free {
    size_t alignment;
    void operator()(uint8_t* p) const;
  };

  PackedWeights() = default;

  int out_ = 0;
  int in_ = 0;
  int bits_ = 8;
  int padded_in_ = 0;
  int panels_ = 0;
  size_t panel_bytes_ = 0;
  std::unique_ptr<uint8_t[], Free> data_{nullptr, Free{64}};
};

// acc[t * acc_stride + o] = sum_i x[t * in + i] * W[o][i] for t < tokens
// and o in [o_begin, o_end), exact. x is [tokens][w.in()] int8 codes.
// Requires IsaSupported(isa), tokens >= 1, 0 <= o_begin <= o_end <=
// w.out() and acc_stride >= o_end (checked: a violation aborts). Rows
// outside [o_begin, o_end) are not written, so concurrent calls on
// disjoint row ranges (of the same or different acc) are safe. Each weight
// panel is read from memory once per call, whatever `tokens` is.
void MatMul(Isa isa, const PackedWeights& w, const int8_t* x, int tokens,
            int o_begin, int o_end, int32_t* acc, int acc_stride);

namespace int8_matmul_internal {

// What the per-ISA kernels get: plain data only, so that their files
// (compiled with AVX flags) instantiate no inline code shared with the
// rest of the program.
struct KernelArgs {
  const uint8_t* weights;  // Panel 0.
  size_t panel_bytes;
  int padded_in;
  int bits;
  const int8_t* x;  // [tokens][padded_in], zero padded.
  // AVX2 with int8 weights only (else null): x as int16, each group of 4
  // inputs reordered (x0, x2, x1, x3).
  const int16_t* x16;
  const int32_t* correction;  // [tokens]: code_bias * sum_i x[t][i].
  int tokens;
  int o_begin;
  int o_end;
  int32_t* acc;
  int acc_stride;
};

void MatMulScalar(const KernelArgs& args);
void MatMulAvx2(const KernelArgs& args);
void MatMulAvx512Vnni(const KernelArgs& args);

}  // namespace int8_matmul_internal

}  // namespace fxserve::backends::cpu

#endif  // FXSERVE_BACKENDS_CPU_INT8_MATMUL_H_
