// One GPT-2 transformer block as a dataflow of kernel units connected by
// streams, one token vector per stream element:
//
//   h -> fork -> LayerNorm -> QKV linear -> attention -> proj linear -+
//        |                                                            v
//        +----------------------------------------------------> residual add
//   -> fork -> LayerNorm -> FC linear -> GELU -> proj linear -> residual add
//
// kTokens = 1 is the decode unit (GEMV linears), kTokens = kPrefillTokens
// the prefill unit (GEMM linears); n <= kTokens tokens run per call, at
// positions start_pos .. start_pos + n - 1. The linears are exact integer
// products, so prefill and decode give the same bits for a token.
#ifndef FXSERVE_KERNELS_TOP_GPT2_BLOCK_H_
#define FXSERVE_KERNELS_TOP_GPT2_BLOCK_H_

#include <hls_stream.h>

#include "kernels/attention/attention_head.h"
#include "kernels/linalg/quant_linear.h"
#include "kernels/nonlinear/gelu.h"
#include "kernels/norm/layer_norm.h"
#include "kernels/quant/requantize.h"
#include "kernels/residual/residual_add.h"
#include "kernels/top/gpt2_params.h"

namespace fxserve::kernels::gpt2 {

// One token's vector: the element type of every stream.
template <class T, int N>
struct Vec {
  T v[N];
};

template <int N>
using ResidStream = hls::stream<Vec<resid_t, N>>;

// Raw code of an ap_fixed value, and back.
template <class Raw, class Fixed>
Raw RawBits(const Fixed& value) {
  Raw raw;
  raw.range(Raw::width - 1, 0) = value.range(Fixed::width - 1, 0);
  return raw;
}
template <class Fixed, class Raw>
Fixed FromRawBits(const Raw& raw) {
  Fixed value;
  value.range(Fixed::width - 1, 0) = raw.range(Raw::width - 1, 0);
  return value;
}

// Copies each residual vector to two consumers.
template <int N>
void ForkStage(ResidStream<N>& in, ResidStream<N>& out_a, ResidStream<N>& out_b,
               int n) {
fork_loop:
  for (int t = 0; t < n; ++t) {
    const Vec<resid_t, N> h = in.read();
    out_a.write(h);
    out_b.write(h);
  }
}

// LayerNorm, then the output into act_t by the calibrated shift.
template <class M>
void LayerNormStage(ResidStream<M::kEmbd>& in,
                    const LayerNormParams<M::kEmbd>& params,
                    hls::stream<Vec<act_t, M::kEmbd>>& out, int n) {
ln_token_loop:
  for (int t = 0; t < n; ++t) {
    const Vec<resid_t, M::kEmbd> h = in.read();
    ln_out_t y[M::kEmbd];
    LayerNorm<LayerNormConfig<M>>(h.v, params.gamma, params.beta, y);
    Vec<act_t, M::kEmbd> a;
  ln_quant_loop:
    for (int i = 0; i < M::kEmbd; ++i) {
#pragma HLS PIPELINE II = 1
      a.v[i] = RequantizeOne<ToActivation<ln_out_t::width>>(
          RawBits<ln_out_raw_t>(y[i]), params.out_shift);
    }
    out.write(a);
  }
}

// Buffers n token vectors (the rest of the kTokens rows are zero), runs
// the quantized linear, streams the n output vectors.
template <class M, int kTokens, int kIn, int kOut, class OutT, int kBits>
void LinearStage(hls::stream<Vec<act_t, kIn>>& in,
                 const LinearParams<kIn, kOut, kBits>& params,
                 hls::stream<Vec<OutT, kOut>>& out, int n) {
  using Config = LinearConfig<M, kTokens, kIn, kOut, OutT, kBits>;
  act_t x[kTokens][kIn];
  OutT y[kTokens][kOut];
linear_read_loop:
  for (int t = 0; t < kTokens; ++t) {
    if (t < n) {
      const Vec<act_t, kIn> row = in.read();
      for (int i = 0; i < kIn; ++i) x[t][i] = row.v[i];
    } else {
      for (int i = 0; i < kIn; ++i) x[t][i] = 0;
    }
  }
  QuantLinear<Config>(x, params.w, params.bias, params.shift, params.mult, y);
linear_write_loop:
  for (int t = 0; t < n; ++t) {
    Vec<OutT, kOut> row;
    for (int o = 0; o < kOut; ++o) row.v[o] = y[t][o];
    out.write(row);
  }
}

// Causal multi-head attention for n tokens in order, each head a
// AttentionHeadStep unit over its slice of q | k | v and its KV cache; the
// heads' outputs into act_t by the calibrated shift.
template <class M>
void AttentionStage(hls::stream<Vec<act_t, 3 * M::kEmbd>>& in,
                    act_t k_cache[M::kHeads][M::kPositions][M::kHeadDim],
                    act_t v_cache[M::kHeads][M::kPositions][M::kHeadDim],
                    int start_pos, int n, int score_frac,
                    linear_shift_t ctx_shift,
                    hls::stream<Vec<act_t, M::kEmbd>>& out) {
  constexpr int kD = M::kHeadDim;
  constexpr int kC = M::kEmbd;
attention_token_loop:
  for (int t = 0; t < n; ++t) {
    const Vec<act_t, 3 * kC> qkv = in.read();
    Vec<act_t, kC> ctx;
  head_loop:
    for (int h = 0; h < M::kHeads; ++h) {
#pragma HLS UNROLL
      act_t q[kD], k[kD], v[kD];
      for (int j = 0; j < kD; ++j) {
        q[j] = qkv.v[h * kD + j];
        k[j] = qkv.v[kC + h * kD + j];
        v[j] = qkv.v[2 * kC + h * kD + j];
      }
      ctx_t head_out[kD];
      AttentionHeadStep<AttentionConfig<M>>(
          q, k, v, k_cache[h], v_cache[h], start_pos + t, score_frac, head_out);
      for (int j = 0; j < kD; ++j) {
        ctx.v[h * kD + j] = RequantizeOne<ToActivation<ctx_t::width>>(
            RawBits<ctx_raw_t>(head_out[j]), ctx_shift);
      }
    }
    out.write(ctx);
  }
}

template <class M>
struct ResidualConfig {
  using a_t = resid_t;
  using b_t = resid_t;
  using out_t = resid_t;
  static constexpr int kN = M::kEmbd;
  static constexpr int kUnroll = 8;
};

// h + delta (delta: a linear's output, raw at the residual's format).
template <class M>
Vec<resid_t, M::kEmbd> AddResidual(const Vec<resid_t, M::kEmbd>& h,
                                   const Vec<resid_raw_t, M::kEmbd>& delta) {
  Vec<resid_t, M::kEmbd> d, sum;
  for (int i = 0; i < M::kEmbd; ++i) {
    d.v[i] = FromRawBits<resid_t>(delta.v[i]);
  }
  ResidualAdd<ResidualConfig<M>>(h.v, d.v, sum.v);
  return sum;
}

// Residual add feeding two consumers (the next sublayer and its residual).
template <class M>
void ResidualForkStage(ResidStream<M::kEmbd>& h_in,
                       hls::stream<Vec<resid_raw_t, M::kEmbd>>& delta_in,
                       ResidStream<M::kEmbd>& out_a,
                       ResidStream<M::kEmbd>& out_b, int n) {
residual_fork_loop:
  for (int t = 0; t < n; ++t) {
    const Vec<resid_t, M::kEmbd> sum =
        AddResidual<M>(h_in.read(), delta_in.read());
    out_a.write(sum);
    out_b.write(sum);
  }
}

template <class M>
void ResidualStage(ResidStream<M::kEmbd>& h_in,
                   hls::stream<Vec<resid_raw_t, M::kEmbd>>& delta_in,
                   ResidStream<M::kEmbd>& out, int n) {
residual_loop:
  for (int t = 0; t < n; ++t) {
    out.write(AddResidual<M>(h_in.read(), delta_in.read()));
  }
}

// GELU, then into act_t by the calibrated shift.
template <class M>
void GeluStage(hls::stream<Vec<gelu_raw_t, M::kInner>>& in,
               linear_shift_t out_shift,
               hls::stream<Vec<act_t, M::kInner>>& out, int n) {
gelu_token_loop:
  for (int t = 0; t < n; ++t) {
    const Vec<gelu_raw_t, M::kInner> raw = in.read();
    gelu_t x[M::kInner], y[M::kInner];
    for (int i = 0; i < M::kInner; ++i) x[i] = FromRawBits<gelu_t>(raw.v[i]);
    Gelu<GeluConfig<M>>(x, y);
    Vec<act_t, M::kInner> a;
  gelu_quant_loop:
    for (int i = 0; i < M::kInner; ++i) {
#pragma HLS PIPELINE II = 1
      a.v[i] = RequantizeOne<ToActivation<gelu_t::width>>(
          RawBits<gelu_raw_t>(y[i]), out_shift);
    }
    out.write(a);
  }
}

// The block: residual vectors in, residual vectors out.
template <class M, int kTokens>
void Gpt2Block(const LayerParams<M>& params,
               act_t k_cache[M::kHeads][M::kPositions][M::kHeadDim],
               act_t v_cache[M::kHeads][M::kPositions][M::kHeadDim],
               int start_pos, int n, ResidStream<M::kEmbd>& in,
               ResidStream<M::kEmbd>& out) {
#pragma HLS DATAFLOW
  constexpr int kC = M::kEmbd;
  constexpr int kBits = M::kWeightBits;
  ResidStream<kC> h_to_ln1("h_to_ln1"), h_to_res1("h_to_res1");
  ResidStream<kC> h1_to_ln2("h1_to_ln2"), h1_to_res2("h1_to_res2");
  hls::stream<Vec<act_t, kC>> ln1_out("ln1_out"), ctx("ctx"),
      ln2_out("ln2_out");
  hls::stream<Vec<act_t, 3 * kC>> qkv("qkv");
  hls::stream<Vec<resid_raw_t, kC>> attn_delta("attn_delta"),
      mlp_delta("mlp_delta");
  hls::stream<Vec<gelu_raw_t, M::kInner>> fc_out("fc_out");
  hls::stream<Vec<act_t, M::kInner>> gelu_out("gelu_out");
#pragma HLS STREAM variable = h_to_res1 depth = kTokens + 2
#pragma HLS STREAM variable = h1_to_res2 depth = kTokens + 2

  ForkStage<kC>(in, h_to_ln1, h_to_res1, n);
  LayerNormStage<M>(h_to_ln1, params.ln_1, ln1_out, n);
  LinearStage<M, kTokens, kC, 3 * kC, act_t, kBits>(ln1_out, params.qkv, qkv,
                                                    n);
  AttentionStage<M>(qkv, k_cache, v_cache, start_pos, n, params.score_frac,
                    params.ctx_shift, ctx);
  LinearStage<M, kTokens, kC, kC, resid_raw_t, kBits>(ctx, params.attn_proj,
                                                      attn_delta, n);
  ResidualForkStage<M>(h_to_res1, attn_delta, h1_to_ln2, h1_to_res2, n);
  LayerNormStage<M>(h1_to_ln2, params.ln_2, ln2_out, n);
  LinearStage<M, kTokens, kC, M::kInner, gelu_raw_t, kBits>(ln2_out, params.fc,
                                                            fc_out, n);
  GeluStage<M>(fc_out, params.gelu_shift, gelu_out, n);
  LinearStage<M, kTokens, M::kInner, kC, resid_raw_t, kBits>(
      gelu_out, params.mlp_proj, mlp_delta, n);
  ResidualStage<M>(h1_to_res2, mlp_delta, out, n);
}

}  // namespace fxserve::kernels::gpt2

#endif  // FXSERVE_KERNELS_TOP_GPT2_BLOCK_H_
