// The Vitis synthesis entry point of fxserve's GPT-2 accelerator: one
// hardware build (shape x weight bits x scale mode), chosen with macros,
// as one C-linkage kernel that v++ compiles by name, named after its build
// so that the host can check an xclbin against the model it loads:
//
//   fxserve_gpt2_<shape>_w<bits>a8_<scales>   e.g. fxserve_gpt2_tiny_w4a8_pow2
//
// It wraps Gpt2Step<M> (kernels/top/gpt2_step.h): one launch runs a whole
// engine step (decode tokens and prefill chunks of many sequences) on the
// device-memory layout of kernels/top/gpt2_device_layout.h.
//
// Build selection (kernels/hw/Makefile passes them with -D):
//   FXSERVE_HW_SHAPE        tiny | small   (default tiny: models/tiny-gpt2)
//   FXSERVE_HW_WEIGHT_BITS  4 | 8          (default 4: W4A8 block linears)
//   FXSERVE_HW_SCALES       pow2 | fixed   (default pow2: shift-only scales)
//
// Seven 512-bit AXI masters, each its own m_axi bundle so that u280.cfg
// can put each on its own HBM pseudo-channels: emb, attn, mlp, head (the
// weights, packed once per model), kv (the paged KV cache), step (the step
// descriptor in, the kernel's status words out) and logits. No scalars: a
// step is described entirely in device memory. The argument order is the
// host's (backends/fpga/gpt2_card.h).
//
// Untested in Vitis (none on the development machines); CI compiles this
// file with g++ (kernels/hw/CMakeLists.txt) and runs the same Gpt2Step in
// C-simulation behind XRT's software emulation (backends/fpga/).
#include "kernels/top/gpt2_step.h"

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

#define FXSERVE_HW_KERNEL_NAME_(shape, bits, scales) \
  fxserve_gpt2_##shape##_w##bits##a8_##scales
#define FXSERVE_HW_KERNEL_NAME(shape, bits, scales) \
  FXSERVE_HW_KERNEL_NAME_(shape, bits, scales)
#define FXSERVE_HW_KERNEL                                           \
  FXSERVE_HW_KERNEL_NAME(FXSERVE_HW_SHAPE, FXSERVE_HW_WEIGHT_BITS, \
                         FXSERVE_HW_SCALES)

// v++ finds kernels by their unmangled names (-k fxserve_gpt2_tiny_...).
// The interface pragmas live here only: Vitis HLS applies them on the top
// function, and this function is the top.
extern "C" {

void FXSERVE_HW_KERNEL(const kgpt2::word_t* emb, const kgpt2::word_t* attn,
                       const kgpt2::word_t* mlp, const kgpt2::word_t* head,
                       kgpt2::word_t* kv, kgpt2::word_t* step,
                       kgpt2::word_t* logits) {
#pragma HLS INTERFACE m_axi port = emb bundle = emb
#pragma HLS INTERFACE m_axi port = attn bundle = attn
#pragma HLS INTERFACE m_axi port = mlp bundle = mlp
#pragma HLS INTERFACE m_axi port = head bundle = head
#pragma HLS INTERFACE m_axi port = kv bundle = kv
#pragma HLS INTERFACE m_axi port = step bundle = step
#pragma HLS INTERFACE m_axi port = logits bundle = logits
#pragma HLS INTERFACE s_axilite port = return
  const kgpt2::StepBuffers<M> buffers{emb, attn, mlp, head, kv, step, logits};
  kgpt2::Gpt2Step<M>(buffers);
}

}  // extern "C"
