// GPT-2 dataflow top functions: embedding -> kLayers blocks -> final
// LayerNorm -> LM head, streams between the units. Gpt2Decode runs one
// token (GEMV units); Gpt2Prefill runs up to kPrefillTokens tokens (GEMM
// units that reuse each weight tile across the tokens). Both append to the
// sequence's KV cache and give identical bits for a token. The layer loop
// reuses one block unit per call; `#pragma HLS UNROLL` on it gives one
// unit per layer (a fully spatial build) where the device has room.
//
// Weights, KV cache and logits live in HBM; kernels/hw/gpt2_tops.cpp wraps
// these two as the Vitis top functions (AXI masters and AXI-lite registers:
// the only interface pragmas) and kernels/hw/u280.cfg maps them to banks.
#ifndef FXSERVE_KERNELS_TOP_GPT2_MODEL_H_
#define FXSERVE_KERNELS_TOP_GPT2_MODEL_H_

#include <hls_stream.h>

#include "kernels/embed/embedding.h"
#include "kernels/top/gpt2_block.h"

namespace fxserve::kernels::gpt2 {

// Embeds n tokens at start_pos...; returns how many tokens or positions
// were out of range (clamped; 0 when the host validated its input).
template <class M>
int EmbeddingStage(const ModelParams<M>& params, const int* tokens,
                   int start_pos, int n, ResidStream<M::kEmbd>& out) {
  int errors = 0;
embed_token_loop:
  for (int t = 0; t < n; ++t) {
    Vec<resid_t, M::kEmbd> h;
    if (!Embedding<EmbeddingConfig<M>>(params.wte, params.wpe, tokens[t],
                                       start_pos + t, h.v)) {
      ++errors;
    }
    out.write(h);
  }
  return errors;
}

// Final LayerNorm and the LM head: logits[t] for t < n, raw at kLogitFrac.
template <class M, int kTokens>
void LmHeadStage(const ModelParams<M>& params, ResidStream<M::kEmbd>& in, int n,
                 logit_raw_t logits[kTokens][M::kVocabPadded]) {
  hls::stream<Vec<act_t, M::kEmbd>> normed("ln_f_out");
  LayerNormStage<M>(in, params.ln_f, normed, n);
  using Config =
      LinearConfig<M, kTokens, M::kEmbd, M::kVocabPadded, logit_raw_t, 8>;
  act_t x[kTokens][M::kEmbd];
lm_head_read_loop:
  for (int t = 0; t < kTokens; ++t) {
    if (t < n) {
      const Vec<act_t, M::kEmbd> row = normed.read();
      for (int i = 0; i < M::kEmbd; ++i) x[t][i] = row.v[i];
    } else {
      for (int i = 0; i < M::kEmbd; ++i) x[t][i] = 0;
    }
  }
  QuantLinear<Config>(x, params.lm_head.w, params.lm_head.bias,
                      params.lm_head.shift, params.lm_head.mult, logits);
}

// The whole model for n <= kTokens tokens at positions start_pos...
// Returns EmbeddingStage's count of out-of-range inputs.
template <class M, int kTokens>
int Gpt2Forward(const ModelParams<M>& params, KvCache<M>& cache,
                const int tokens[kTokens], int start_pos, int n,
                logit_raw_t logits[kTokens][M::kVocabPadded]) {
#pragma HLS DATAFLOW
  ResidStream<M::kEmbd> stream[M::kLayers + 1];
  const int errors = EmbeddingStage<M>(params, tokens, start_pos, n, stream[0]);
layer_loop:
  for (int l = 0; l < M::kLayers; ++l) {
    Gpt2Block<M, kTokens>(params.layers[l], cache.k[l], cache.v[l], start_pos,
                          n, stream[l], stream[l + 1]);
  }
  LmHeadStage<M, kTokens>(params, stream[M::kLayers], n, logits);
  return errors;
}

// Decode: one token at position pos.
template <class M>
int Gpt2Decode(const ModelParams<M>* params, KvCache<M>* cache, int token,
               int pos, logit_raw_t logits[1][M::kVocabPadded]) {
  const int tokens[1] = {token};
  return Gpt2Forward<M, 1>(*params, *cache, tokens, pos, 1, logits);
}

// Prefill: n (1 .. kPrefillTokens) tokens at positions start_pos...
template <class M>
int Gpt2Prefill(const ModelParams<M>* params, KvCache<M>* cache,
                const int tokens[kPrefillTokens], int start_pos, int n,
                logit_raw_t logits[kPrefillTokens][M::kVocabPadded]) {
  return Gpt2Forward<M, kPrefillTokens>(*params, *cache, tokens, start_pos, n,
                                        logits);
}

}  // namespace fxserve::kernels::gpt2

#endif  // FXSERVE_KERNELS_TOP_GPT2_MODEL_H_
