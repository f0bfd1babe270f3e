// Where everything of fxserve's GPT-2 accelerator lives in device memory:
// the one description that the host's packer writes and the step top
// (gpt2_step.h) reads. Plain C++ (no HLS types), constexpr, so both sides
// compute the same byte offsets from the same model dimensions.
//
// Device memory is addressed in 512-bit words (kWordBytes); every section
// starts on a word. All integers are little-endian two's complement. Seven
// buffers, each its own m_axi bundle so that each can sit on its own HBM
// pseudo-channels (kernels/hw/u280.cfg):
//
//   emb     wte [vocab][embd] int16, wpe [positions][embd] int16
//   attn    per layer: scalars, ln_1, qkv, attn_proj      (kAttnLayerBytes)
//   mlp     per layer: scalars, ln_2, fc, mlp_proj        (kMlpLayerBytes)
//   head    ln_f, lm_head (int8, vocab padded to kVocabAlign rows)
//   kv      KV blocks, the CPU backend's paged layout (KvLayout)
//   step    the step descriptor (StepLayout): entries, tokens, block tables,
//           and the status words the kernel writes back
//   logits  rows of int32 logit codes, vocab_padded per row, then one
//           int32 trailer (the launch id) after the last row written
//
// A linear layer kIn -> kOut: weights [kOut][kIn] int8, or int4 two per
// byte ([kOut/2][kIn]: byte [o/2][i] holds row o's nibble in bits 3..0 for
// even o, bits 7..4 for odd o), then bias int32[kOut], shift int8[kOut],
// mult uint16[kOut] (zero in pow2 builds). A LayerNorm: out_shift int32 in
// its own word, then gamma int32[kN], beta int32[kN] (24-bit codes,
// sign-extended).
#ifndef FXSERVE_KERNELS_TOP_GPT2_DEVICE_LAYOUT_H_
#define FXSERVE_KERNELS_TOP_GPT2_DEVICE_LAYOUT_H_

#include <cstdint>

namespace fxserve::kernels::gpt2::device {

inline constexpr int kWordBytes = 64;  // One 512-bit AXI beat.

constexpr uint64_t AlignToWord(uint64_t bytes) {
  return (bytes + kWordBytes - 1) / kWordBytes * kWordBytes;
}

// The model dimensions a layout depends on.
struct Dims {
  int vocab = 0;
  int vocab_padded = 0;  // LM head rows (multiple of kVocabAlign).
  int positions = 0;
  int embd = 0;
  int layers = 0;
  int heads = 0;
  int inner = 0;
  int weight_bits = 8;  // Block linears: 8 or 4 (the LM head is always 8).
  constexpr int head_dim() const { return embd / heads; }
};

// Byte offsets of one linear's arrays from the start of its buffer.
struct LinearLayout {
  uint64_t weights = 0, bias = 0, shift = 0, mult = 0, end = 0;
};

constexpr LinearLayout LayOutLinear(uint64_t base, int in, int out, int bits) {
  LinearLayout l;
  const uint64_t rows = bits == 8 ? out : out / 2;
  l.weights = base;
  l.bias = AlignToWord(l.weights + rows * in);
  l.shift = AlignToWord(l.bias + 4ull * out);
  l.mult = AlignToWord(l.shift + 1ull * out);
  l.end = AlignToWord(l.mult + 2ull * out);
  return l;
}

struct LayerNormLayout {
  uint64_t out_shift = 0, gamma = 0, beta = 0, end = 0;
};

constexpr LayerNormLayout LayOutLayerNorm(uint64_t base, int n) {
  LayerNormLayout l;
  l.out_shift = base;
  l.gamma = base + kWordBytes;
  l.beta = AlignToWord(l.gamma + 4ull * n);
  l.end = AlignToWord(l.beta + 4ull * n);
  return l;
}

// One layer's attention half in the attn buffer, from the layer's start.
// Scalars word: int32 score_frac, int32 ctx_shift.
struct AttnLayerLayout {
  uint64_t scalars = 0;
  LayerNormLayout ln_1;
  LinearLayout qkv, attn_proj;
  uint64_t bytes = 0;  // Stride between layers.
};

constexpr AttnLayerLayout LayOutAttnLayer(const Dims& d) {
  AttnLayerLayout l;
  l.ln_1 = LayOutLayerNorm(kWordBytes, d.embd);
  l.qkv = LayOutLinear(l.ln_1.end, d.embd, 3 * d.embd, d.weight_bits);
  l.attn_proj = LayOutLinear(l.qkv.end, d.embd, d.embd, d.weight_bits);
  l.bytes = l.attn_proj.end;
  return l;
}

// One layer's MLP half in the mlp buffer. Scalars word: int32 gelu_shift.
struct MlpLayerLayout {
  uint64_t scalars = 0;
  LayerNormLayout ln_2;
  LinearLayout fc, mlp_proj;
  uint64_t bytes = 0;
};

constexpr MlpLayerLayout LayOutMlpLayer(const Dims& d) {
  MlpLayerLayout l;
  l.ln_2 = LayOutLayerNorm(kWordBytes, d.embd);
  l.fc = LayOutLinear(l.ln_2.end, d.embd, d.inner, d.weight_bits);
  l.mlp_proj = LayOutLinear(l.fc.end, d.inner, d.embd, d.weight_bits);
  l.bytes = l.mlp_proj.end;
  return l;
}

struct EmbLayout {
  uint64_t wte = 0, wpe = 0, bytes = 0;
  uint64_t row_bytes = 0;  // One table row: embd int16.
};

constexpr EmbLayout LayOutEmb(const Dims& d) {
  EmbLayout l;
  l.row_bytes = 2ull * d.embd;
  l.wpe = AlignToWord(l.row_bytes * d.vocab);
  l.bytes = AlignToWord(l.wpe + l.row_bytes * d.positions);
  return l;
}

struct HeadLayout {
  LayerNormLayout ln_f;
  LinearLayout lm_head;
  uint64_t bytes = 0;
};

constexpr HeadLayout LayOutHead(const Dims& d) {
  HeadLayout l;
  l.ln_f = LayOutLayerNorm(0, d.embd);
  l.lm_head = LayOutLinear(l.ln_f.end, d.embd, d.vocab_padded, 8);
  l.bytes = l.lm_head.end;
  return l;
}

// The KV cache: blocks of block_tokens positions, int8 codes, each block
// [layer][kind: 0 = key, 1 = value][head][position in block][head_dim].
struct KvLayout {
  Dims dims;
  int block_tokens = 16;
  constexpr uint64_t block_bytes() const {
    return 2ull * dims.layers * dims.heads * block_tokens * dims.head_dim();
  }
  // Byte offset of one head's row of keys (kind 0) or values (kind 1).
  constexpr uint64_t Row(int block, int layer, int kind, int head,
                         int position) const {
    const uint64_t row =
        ((static_cast<uint64_t>(layer) * 2 + kind) * dims.heads + head) *
            block_tokens +
        position % block_tokens;
    return block * block_bytes() + row * dims.head_dim();
  }
};

// The step descriptor, in int32 units from the buffer's start. An entry
// runs n (1 .. kPrefillTokens) tokens of one sequence at start_pos; entries
// of one sequence follow each other in position order. Its logits: none
// (logits_row < 0: an inner prefill chunk), the last token's row, or one
// row per token (all_logits), at logits_row onwards.
inline constexpr int32_t kStepMagic = 0x31535846;  // "FXS1".
inline constexpr int kMaxStepEntries = 64;
inline constexpr int kMaxStepTokens = 256;
inline constexpr int kMaxLogitRows = 64;

namespace step {
// Header words.
inline constexpr int kMagic = 0;
inline constexpr int kEntries = 1;
inline constexpr int kTokens = 2;
inline constexpr int kLogitRows = 3;
inline constexpr int kTableStride = 4;  // Block ids per entry's table.
inline constexpr int kBlockTokens = 5;
inline constexpr int kKvBlocks = 6;
// The host's number for this launch. The kernel echoes it into kDone and
// into the word after the last logits row, so the host can tell fresh
// results from stale ones (a lost copy leaves the old bytes behind).
inline constexpr int kLaunchId = 7;
// Written by the kernel: entries it refused (out-of-range fields), and
// tokens or positions it clamped. Both 0 when the host validated.
inline constexpr int kBadEntries = 8;
inline constexpr int kClamped = 9;
inline constexpr int kDone = 10;  // kLaunchId's value once the step ran.
inline constexpr int kHeaderWords = 16;
// Entry words (kEntryWords each, from kEntriesStart).
inline constexpr int kStartPos = 0;
inline constexpr int kCount = 1;
inline constexpr int kTokenOffset = 2;
inline constexpr int kLogitsRow = 3;
inline constexpr int kAllLogits = 4;
inline constexpr int kEntryWords = 8;
inline constexpr int kEntriesStart = kHeaderWords;
inline constexpr int kTokensStart =
    kEntriesStart + kMaxStepEntries * kEntryWords;
inline constexpr int kTablesStart = kTokensStart + kMaxStepTokens;
// Entry e's block table: table_stride ids at kTablesStart + e * stride.
constexpr int BufferWords(int table_stride) {
  return kTablesStart + kMaxStepEntries * table_stride;
}
}  // namespace step

}  // namespace fxserve::kernels::gpt2::device

#endif  // FXSERVE_KERNELS_TOP_GPT2_DEVICE_LAYOUT_H_
