// The Vitis synthesis entry points of fxserve's GPT-2 accelerator: one
// hardware build (shape x weight bits x scale mode), chosen with macros,
// as two C-linkage kernels that v++ compiles by name:
//
//   fxserve_gpt2_decode   one token (Gpt2Decode: GEMV units)
//   fxserve_gpt2_prefill  up to kPrefillTokens tokens (Gpt2Prefill: GEMM)
//
// Build selection (kernels/hw/Makefile passes them with -D):
//   FXSERVE_HW_SHAPE        tiny | small   (default tiny: models/tiny-gpt2)
//   FXSERVE_HW_WEIGHT_BITS  4 | 8          (default 4: W4A8 block linears)
//   FXSERVE_HW_SCALES       pow2 | fixed   (default pow2: shift-only scales)
//
// The XRT host binds one buffer per pointer argument: `params` (the whole
// ModelParams<M> image, m_axi bundle `weights`), `cache` (one sequence's
// KvCache<M>, bundle `kv`), `tokens`, `logits` and `embed_errors` (bundle
// `out`); the scalars are AXI-lite registers. The buffers hold the C++
// object layout of the structs in kernels/top/gpt2_params.h as compiled
// with AMD's headers. Whether Vitis HLS accepts these struct pointers as
// m_axi ports at all is the first open question (kernels/hw/README.md,
// "Known risks").
//
// The kernels return void: an XRT run reports only its state, so the
// count of clamped out-of-range token ids / positions (0 when the host
// validated its input) is written to `embed_errors[0]` instead.
//
// Untested in Vitis (none on the development machines); CI only compiles
// this file with g++ (kernels/hw/CMakeLists.txt).
#include "kernels/top/gpt2_model.h"

#ifndef FXSERVE_HW_SHAPE
#define FXSERVE_HW_SHAPE tiny
#endif
#ifndef FXSERVE_HW_WEIGHT_BITS
#define FXSERVE_HW_WEIGHT_BITS 4
#endif
#ifndef FXSERVE_HW_SCALES
#define FXSERVE_HW_SCALES pow2
#endif

// Token pasting turns the macro's word into a name below, so a value
// other than the listed ones fails to compile with that name in the error.
#define FXSERVE_HW_PASTE_(a, b) a##b
#define FXSERVE_HW_PASTE(a, b) FXSERVE_HW_PASTE_(a, b)

namespace fxserve::kernels::gpt2::hw {

// FXSERVE_HW_SHAPE's values.
using Shape_tiny = Gpt2TinyShape;
using Shape_small = Gpt2SmallShape;
// FXSERVE_HW_SCALES's values.
inline constexpr ScaleMode Scales_pow2 = ScaleMode::kPow2;
inline constexpr ScaleMode Scales_fixed = ScaleMode::kFixed;

static_assert(FXSERVE_HW_WEIGHT_BITS == 4 || FXSERVE_HW_WEIGHT_BITS == 8,
              "FXSERVE_HW_WEIGHT_BITS must be 4 or 8");

// The one model configuration this translation unit builds.
using M = Gpt2Config<FXSERVE_HW_PASTE(Shape_, FXSERVE_HW_SHAPE),
                     FXSERVE_HW_WEIGHT_BITS,
                     FXSERVE_HW_PASTE(Scales_, FXSERVE_HW_SCALES)>;

}  // namespace fxserve::kernels::gpt2::hw

namespace kgpt2 = fxserve::kernels::gpt2;
using kgpt2::hw::M;

// v++ finds kernels by their unmangled names (-k fxserve_gpt2_decode).
// The interface pragmas live here only: Vitis HLS applies them on the top
// function, and these functions are the tops.
extern "C" {

void fxserve_gpt2_decode(const kgpt2::ModelParams<M>* params,
                         kgpt2::KvCache<M>* cache, int token, int pos,
                         kgpt2::logit_raw_t logits[1][M::kVocabPadded],
                         int* embed_errors) {
#pragma HLS INTERFACE m_axi port = params bundle = weights
#pragma HLS INTERFACE m_axi port = cache bundle = kv
#pragma HLS INTERFACE m_axi port = logits bundle = out
#pragma HLS INTERFACE m_axi port = embed_errors bundle = out
#pragma HLS INTERFACE s_axilite port = token
#pragma HLS INTERFACE s_axilite port = pos
#pragma HLS INTERFACE s_axilite port = return
  embed_errors[0] = kgpt2::Gpt2Decode<M>(params, cache, token, pos, logits);
}

void fxserve_gpt2_prefill(
    const kgpt2::ModelParams<M>* params, kgpt2::KvCache<M>* cache,
    const int tokens[kgpt2::kPrefillTokens], int start_pos, int n,
    kgpt2::logit_raw_t logits[kgpt2::kPrefillTokens][M::kVocabPadded],
    int* embed_errors) {
#pragma HLS INTERFACE m_axi port = params bundle = weights
#pragma HLS INTERFACE m_axi port = cache bundle = kv
#pragma HLS INTERFACE m_axi port = tokens bundle = out
#pragma HLS INTERFACE m_axi port = logits bundle = out
#pragma HLS INTERFACE m_axi port = embed_errors bundle = out
#pragma HLS INTERFACE s_axilite port = start_pos
#pragma HLS INTERFACE s_axilite port = n
#pragma HLS INTERFACE s_axilite port = return
  embed_errors[0] =
      kgpt2::Gpt2Prefill<M>(params, cache, tokens, start_pos, n, logits);
}

}  // extern "C"
