// Token + position embedding: out[d] = wte[token][d] + wpe[pos][d]. The sum
// of the two table entries is exact (ap_fixed addition widens as needed)
// and is then converted once into out_t, whose quantization and overflow
// modes decide rounding and saturation.
//
// Out-of-range indices: hardware has no exceptions, and an unchecked index
// would read outside the tables (another buffer's BRAM, or an arbitrary
// DDR address). The rule here: each index is clamped to its table, i.e.
// token < 0 reads row 0 and token >= kVocab reads row kVocab - 1 (the same
// for pos with kPositions), so out is always the sum of two real rows; the
// function returns true exactly when both indices were in range. The host
// is expected to validate its inputs; the flag lets it detect a violation
// without the kernel ever reading out of bounds.
#ifndef FXSERVE_KERNELS_EMBED_EMBEDDING_H_
#define FXSERVE_KERNELS_EMBED_EMBEDDING_H_

#include <ap_fixed.h>

namespace fxserve::kernels {

// Example configuration (GPT-2 small); models define their own.
struct EmbeddingConfigExample {
  using wte_t = ap_fixed<16, 3>;  // Token embedding table entry.
  using wpe_t = ap_fixed<16, 3>;  // Position embedding table entry.
  using out_t = ap_fixed<16, 5, AP_RND_CONV, AP_SAT>;  // Sum, its modes apply.
  static constexpr int kVocab = 50257;                 // Rows of wte.
  static constexpr int kPositions = 1024;              // Rows of wpe.
  static constexpr int kDim = 768;   // Embedding width (multiple of kUnroll).
  static constexpr int kUnroll = 4;  // Elements summed in parallel.
};

// Clamps index into [0, rows - 1]; the documented out-of-range rule.
inline int ClampEmbeddingIndex(int index, int rows) {
  if (index < 0) return 0;
  if (index >= rows) return rows - 1;
  return index;
}

// out[d] = out_t(wte[token'][d] + wpe[pos'][d]) with token' and pos' the
// clamped indices. Returns whether token and pos were both in range.
template <class Config>
bool Embedding(
    const typename Config::wte_t wte[Config::kVocab][Config::kDim],
    const typename Config::wpe_t wpe[Config::kPositions][Config::kDim],
    int token, int pos, typename Config::out_t out[Config::kDim]) {
  static_assert(Config::kDim % Config::kUnroll == 0,
                "kDim must be a multiple of kUnroll");
  static_assert(Config::kVocab > 0 && Config::kPositions > 0,
                "tables must have rows");
  const int row = ClampEmbeddingIndex(token, Config::kVocab);
  const int col = ClampEmbeddingIndex(pos, Config::kPositions);
embed_loop:
  for (int d = 0; d < Config::kDim; ++d) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = Config::kUnroll
    // Full-precision sum; the one quantization is the conversion to out_t.
    out[d] = wte[row][d] + wpe[col][d];
  }
  return row == token && col == pos;
}

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_EMBED_EMBEDDING_H_
