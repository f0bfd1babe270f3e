// Fast native-integer versions of GPT-2's non-matmul operations for the CPU
// backend: requantization, LayerNorm, GELU and one causal attention head.
// Each is bit-exact with the kernel C-simulation (kernels/top/NUMERICS.md)
// for the GPT-2 kernel configs (kernels/top/gpt2_numerics.h: LayerNormConfig,
// GeluConfig, AttentionConfig) of both model shapes, and uses only int32,
// int64 and 128-bit integers: no ap_ types, no per-element heap allocation.
// tests/backends/cpu/int_ops_test.cc checks every function against the
// kernels themselves.
#ifndef FXSERVE_BACKENDS_CPU_INT_OPS_H_
#define FXSERVE_BACKENDS_CPU_INT_OPS_H_

#include <cstdint>

namespace fxserve::backends::cpu {

// Largest score_frac AttentionHeadToInt8 accepts (kernels::kMaxScoreFrac).
inline constexpr int kMaxScoreFrac = 31;
// Longest attention row (the softmax sum's 16 integer bits).
inline constexpr int kMaxAttentionLength = 65535;

// kernels::RequantizeOne with a shift in [-64, 63] and a signed
// out_bits-wide output (1 <= out_bits <= 64): value * 2^-shift rounded half
// to even (an exact left shift for shift <= 0), saturated to
// [-2^(out_bits-1), 2^(out_bits-1) - 1]. Computed exactly for any int64.
int64_t Requantize(int64_t value, int shift, int out_bits);

// Requantize() for the hot output stage of the linears, inline and in
// 64-bit arithmetic: the same result when |value| < 2^61, shift in
// [-64, 63] and 2 <= out_bits <= 32 (a linear's accumulator times a 16-bit
// multiplier is below 2^51).
inline int32_t RequantizeNarrow(int64_t value, int shift, int out_bits) {
  const int64_t hi = (int64_t{1} << (out_bits - 1)) - 1;
  const int64_t lo = -hi - 1;
  int64_t q;
  if (shift > 0) {
    // floor((v + half - 1 + odd) / 2^s): ties go to the even neighbour.
    const int64_t half = int64_t{1} << (shift - 1);
    q = (value + half - 1 + ((value >> shift) & 1)) >> shift;
  } else {
    const int k = -shift;
    if (value == 0 || k == 0) {
      q = value;
    } else if (k >= out_bits - 1) {
      return static_cast<int32_t>(value > 0 ? hi : lo);
    } else {
      const int64_t limit = hi >> k;
      if (value > limit) return static_cast<int32_t>(hi);
      if (value < -limit - 1) return static_cast<int32_t>(lo);
      return static_cast<int32_t>(value * (int64_t{1} << k));
    }
  }
  return static_cast<int32_t>(q < lo ? lo : (q > hi ? hi : q));
}

// LayerNorm of one vector of n >= 1 residual codes, exactly as
// kernels::LayerNorm<gpt2::LayerNormConfig<M>> (kernels/norm/README.md with
// input Q(32,16), G = 4, L = 10, Fy = 22, eps = 1e-5, z in Q(24,16) and y in
// Q(24,14), both rounded half to even and saturated), then
// out[i] = Requantize(y_i, out_shift, 8). x: Q(32,16) codes (any int32);
// gamma, beta: Q(24,16) codes (sign-extended 24-bit values); out_shift in
// [-64, 63]. For n = kEmbd this is the kernel's result for any M.
void LayerNormToInt8(const int32_t* x, int n, const int32_t* gamma,
                     const int32_t* beta, int out_shift, int8_t* out);

// GELU of n values exactly as kernels::GeluOne<gpt2::GeluConfig<M>> (input
// and output Q(20,12), the output rounded half to even and saturated), then
// out[i] = Requantize(g_i, out_shift, 8). x: Q(20,12) codes as sign-extended
// 20-bit values (like the kernel's raw-to-gelu_t conversion, only the low 20
// bits of each int32 are read).
void GeluToInt8(const int32_t* x, int n, int out_shift, int8_t* out);

// One causal attention head for one query, exactly as
// kernels::AttentionHeadStep<gpt2::AttentionConfig<M>> at position
// length - 1 followed by AttentionStage's requantization (gpt2_block.h):
//   s_t = Q(18,10) rne/sat of (q . keys[t]) * 2^-score_frac, t < length;
//   p = Softmax(s) in UQ(16,15) (kernels/nonlinear/README.md: exp table of
//       2^10 entries of 20 bits, log2(e) with 20 fraction bits, one 24-bit
//       reciprocal of the row's sum);
//   o_j = Q(16,8) rne/sat of sum_t p_t * values[t][j];
//   out[j] = Requantize(o_j, ctx_shift, 8), j < head_dim.
// keys[t] and values[t] point to head_dim int8 codes each (rows may live
// anywhere, e.g. in a paged KV cache). 1 <= head_dim <= 256 (GPT-2: 32 or
// 64), 1 <= length <= kMaxAttentionLength (the kernel's kMaxPositions bounds
// it in hardware). Like the kernel, a score_frac outside [0, kMaxScoreFrac]
// gives all-zero outputs (so do a length out of range and head_dim > 256;
// head_dim < 1 writes nothing). Allocates
// nothing per call beyond a stack buffer (a thread-local one, grown once, for
// rows longer than 2048).
void AttentionHeadToInt8(const int8_t* q, const int8_t* const* keys,
                         const int8_t* const* values, int length, int head_dim,
                         int score_frac, int ctx_shift, int8_t* out);

// The same operations without the final requantization, giving the codes
// the kernels hand to it (for tests and for callers that need them):
// LayerNorm's y_i in Q(24,14), GELU's g in Q(20,12), the head's o_j in
// Q(16,8). The *ToInt8 functions above are these fused with Requantize.
void LayerNormCodes(const int32_t* x, int n, const int32_t* gamma,
                    const int32_t* beta, int32_t* y);
int32_t GeluCode(int32_t x);
void AttentionHeadCodes(const int8_t* q, const int8_t* const* keys,
                        const int8_t* const* values, int length, int head_dim,
                        int score_frac, int32_t* out);

// Code paths. Every function above gives the same bits on each path; by
// default the best one the CPU supports runs (AVX2 on x86-64 CPUs that have
// it, else baseline x86-64 / the target's default), unless the environment
// variable FXSERVE_CPU_ISA (read once, as for the matrix products) is
// "scalar", which selects kBaseline.
enum class IntOpsPath { kBaseline, kAvx2 };
bool IntOpsPathSupported(IntOpsPath path);
IntOpsPath ActiveIntOpsPath();
// For tests and benchmarks: every later call in the process uses `path`.
// Returns false, changing nothing, if this CPU cannot run it.
bool SetIntOpsPathForTesting(IntOpsPath path);

}  // namespace fxserve::backends::cpu

#endif  // FXSERVE_BACKENDS_CPU_INT_OPS_H_
