// The step-granular GPT-2 top: one launch runs a whole engine step, the
// decode tokens and prefill chunks of many sequences (the step descriptor
// of gpt2_device_layout.h), on weights and a paged KV cache that stay in
// device memory between launches.
//
// Layer-major, so every weight is read from device memory once per step:
//
//   embed every token -> for each layer: load its weights on chip, then run
//   the block unit for each entry in order (gather that entry's KV rows from
//   its blocks, Gpt2Block, scatter the new rows back) -> final LayerNorm of
//   the rows that want logits -> LM head a tile of rows at a time, each
//   tile applied to all those rows.
//
// Each entry runs the decode unit (n = 1, GEMV) or the prefill unit (n <=
// kPrefillTokens, GEMM), the units of gpt2_block.h, so the bits are those
// of NUMERICS.md whatever the batch. Entries with a field out of range are
// skipped and counted (kBadEntries); the kernel never addresses outside a
// buffer it was given the size of.
#ifndef FXSERVE_KERNELS_TOP_GPT2_STEP_H_
#define FXSERVE_KERNELS_TOP_GPT2_STEP_H_

#include <hls_stream.h>

#include "kernels/embed/embedding.h"
#include "kernels/top/gpt2_block.h"
#include "kernels/top/gpt2_device_io.h"

namespace fxserve::kernels::gpt2 {

template <class M>
constexpr device::Dims DimsOf() {
  device::Dims d;
  d.vocab = M::kVocab;
  d.vocab_padded = M::kVocabPadded;
  d.positions = M::kPositions;
  d.embd = M::kEmbd;
  d.layers = M::kLayers;
  d.heads = M::kHeads;
  d.inner = M::kInner;
  d.weight_bits = M::kWeightBits;
  return d;
}

// One entry of the step descriptor, checked.
struct StepEntry {
  int start_pos = 0;
  int n = 0;
  int token_offset = 0;  // Into the descriptor's tokens and the h rows.
  int logits_row = -1;   // < 0: no logits.
  bool all_logits = false;
  int table = 0;  // Word index of its block table in the descriptor.
  int rows() const { return logits_row < 0 ? 0 : (all_logits ? n : 1); }
};

// The header fields a step needs, read once.
struct StepHeader {
  int entries = 0, tokens = 0, logit_rows = 0;
  int table_stride = 0, block_tokens = 0, kv_blocks = 0;
};

template <class M>
struct StepBuffers {
  const word_t* emb;
  const word_t* attn;
  const word_t* mlp;
  const word_t* head;
  word_t* kv;
  word_t* step;
  word_t* logits;
};

inline int StepWord(const word_t* step, int index) {
  return ReadInt32(step, 4ull * index);
}

// Reads entry e; false (skip it) when a field would address outside the
// buffers or the entry breaks the descriptor's own limits.
template <class M>
bool ReadStepEntry(const word_t* step, const StepHeader& h, int e,
                   StepEntry& out) {
  const int base = device::step::kEntriesStart + e * device::step::kEntryWords;
  out.start_pos = StepWord(step, base + device::step::kStartPos);
  out.n = StepWord(step, base + device::step::kCount);
  out.token_offset = StepWord(step, base + device::step::kTokenOffset);
  out.logits_row = StepWord(step, base + device::step::kLogitsRow);
  out.all_logits = StepWord(step, base + device::step::kAllLogits) != 0;
  out.table = device::step::kTablesStart + e * h.table_stride;
  if (out.n < 1 || out.n > kPrefillTokens || out.start_pos < 0 ||
      out.start_pos + out.n > M::kPositions || out.token_offset < 0 ||
      out.token_offset + out.n > h.tokens) {
    return false;
  }
  if (out.logits_row >= 0 && out.logits_row + out.rows() > h.logit_rows) {
    return false;
  }
  const int blocks =
      (out.start_pos + out.n + h.block_tokens - 1) / h.block_tokens;
  if (blocks > h.table_stride) return false;
check_table_loop:
  for (int b = 0; b < blocks; ++b) {
    const int id = StepWord(step, out.table + b);
    if (id < 0 || id >= h.kv_blocks) return false;
  }
  return true;
}

// The embedding unit on the one wte row and one wpe row read for a token.
template <class M>
struct OneRowEmbeddingConfig : EmbeddingConfig<M> {
  static constexpr int kVocab = 1;
  static constexpr int kPositions = 1;
};

// h[t] = wte[token] + wpe[pos] for the entry's tokens; counts clamped ids.
template <class M>
int EmbedEntry(const word_t* emb, const word_t* step, const StepEntry& e,
               resid_t h[device::kMaxStepTokens][M::kEmbd]) {
  using RowConfig = OneRowEmbeddingConfig<M>;
  constexpr device::EmbLayout kLayout = device::LayOutEmb(DimsOf<M>());
  int clamped = 0;
embed_entry_loop:
  for (int t = 0; t < e.n; ++t) {
    int token = StepWord(step, device::step::kTokensStart + e.token_offset + t);
    if (token < 0 || token >= M::kVocab) {
      ++clamped;
      token = ClampEmbeddingIndex(token, M::kVocab);
    }
    uint8_t wte_bytes[2 * M::kEmbd], wpe_bytes[2 * M::kEmbd];
    ReadBytes(emb, kLayout.wte + kLayout.row_bytes * token, kLayout.row_bytes,
              wte_bytes);
    ReadBytes(emb, kLayout.wpe + kLayout.row_bytes * (e.start_pos + t),
              kLayout.row_bytes, wpe_bytes);
    emb_t wte[1][M::kEmbd], wpe[1][M::kEmbd];
    for (int i = 0; i < M::kEmbd; ++i) {
      wte[0][i] = FromRawBits<emb_t>(
          ap_int<16>(int16_t(wte_bytes[2 * i] | wte_bytes[2 * i + 1] << 8)));
      wpe[0][i] = FromRawBits<emb_t>(
          ap_int<16>(int16_t(wpe_bytes[2 * i] | wpe_bytes[2 * i + 1] << 8)));
    }
    Embedding<RowConfig>(wte, wpe, 0, 0, h[e.token_offset + t]);
  }
  return clamped;
}

template <class M>
void LoadLayer(const word_t* attn, const word_t* mlp, int layer,
               LayerParams<M>& p) {
  constexpr device::AttnLayerLayout kA = device::LayOutAttnLayer(DimsOf<M>());
  constexpr device::MlpLayerLayout kM = device::LayOutMlpLayer(DimsOf<M>());
  const word_t* a = attn + uint64_t(layer) * kA.bytes / device::kWordBytes;
  const word_t* m = mlp + uint64_t(layer) * kM.bytes / device::kWordBytes;
  LoadLayerNorm(a, kA.ln_1, p.ln_1);
  LoadLinear(a, kA.qkv, 0, p.qkv);
  p.score_frac = ReadInt32(a, kA.scalars);
  p.ctx_shift = ReadInt32(a, kA.scalars + 4);
  LoadLinear(a, kA.attn_proj, 0, p.attn_proj);
  LoadLayerNorm(m, kM.ln_2, p.ln_2);
  LoadLinear(m, kM.fc, 0, p.fc);
  p.gelu_shift = ReadInt32(m, kM.scalars);
  LoadLinear(m, kM.mlp_proj, 0, p.mlp_proj);
}

// The KV rows of one layer of one sequence: positions [from, to) between
// its blocks in device memory and the attention units' on-chip cache.
template <class M>
struct KvRows {
  act_t k[M::kHeads][M::kPositions][M::kHeadDim];
  act_t v[M::kHeads][M::kPositions][M::kHeadDim];
};

template <class M>
void GatherKv(const word_t* kv, const device::KvLayout& layout,
              const word_t* step, const StepEntry& e, int layer, int from,
              int to, KvRows<M>& rows) {
  uint8_t bytes[M::kHeadDim];
gather_position_loop:
  for (int pos = from; pos < to; ++pos) {
    const int block = StepWord(step, e.table + pos / layout.block_tokens);
    for (int kind = 0; kind < 2; ++kind) {
      for (int head = 0; head < M::kHeads; ++head) {
        ReadBytes(kv, layout.Row(block, layer, kind, head, pos), M::kHeadDim,
                  bytes);
        act_t* row = kind == 0 ? rows.k[head][pos] : rows.v[head][pos];
        for (int j = 0; j < M::kHeadDim; ++j) row[j] = int8_t(bytes[j]);
      }
    }
  }
}

template <class M>
void ScatterKv(word_t* kv, const device::KvLayout& layout, const word_t* step,
               const StepEntry& e, int layer, int from, int to,
               const KvRows<M>& rows) {
  uint8_t bytes[M::kHeadDim];
scatter_position_loop:
  for (int pos = from; pos < to; ++pos) {
    const int block = StepWord(step, e.table + pos / layout.block_tokens);
    for (int kind = 0; kind < 2; ++kind) {
      for (int head = 0; head < M::kHeads; ++head) {
        const act_t* row = kind == 0 ? rows.k[head][pos] : rows.v[head][pos];
        for (int j = 0; j < M::kHeadDim; ++j) {
          bytes[j] = uint8_t(row[j].to_int());
        }
        WriteBytes(kv, layout.Row(block, layer, kind, head, pos), M::kHeadDim,
                   bytes);
      }
    }
  }
}

// One layer of one entry: its n residual rows through the block unit.
template <class M, int kTokens>
void RunEntryLayer(const LayerParams<M>& params, KvRows<M>& kv_rows,
                   const StepEntry& e,
                   resid_t h[device::kMaxStepTokens][M::kEmbd]) {
  ResidStream<M::kEmbd> in("entry_in"), out("entry_out");
  for (int t = 0; t < e.n; ++t) {
    Vec<resid_t, M::kEmbd> row;
    for (int i = 0; i < M::kEmbd; ++i) row.v[i] = h[e.token_offset + t][i];
    in.write(row);
  }
  Gpt2Block<M, kTokens>(params, kv_rows.k, kv_rows.v, e.start_pos, e.n, in,
                        out);
  for (int t = 0; t < e.n; ++t) {
    const Vec<resid_t, M::kEmbd> row = out.read();
    for (int i = 0; i < M::kEmbd; ++i) h[e.token_offset + t][i] = row.v[i];
  }
}

// The LM head over `rows` normed rows, one tile of kHeadTile vocabulary
// rows at a time: a tile's weights are read once for all rows.
inline constexpr int kHeadTile = 64;

template <class M, int kTokens>
void HeadTileRows(const LinearParams<M::kEmbd, kHeadTile, 8>& tile,
                  const act_t normed[device::kMaxLogitRows][M::kEmbd],
                  int first, int count, int o0, word_t* logits) {
  using Config = LinearConfig<M, kTokens, M::kEmbd, kHeadTile, logit_raw_t, 8>;
  act_t x[kTokens][M::kEmbd];
  logit_raw_t y[kTokens][kHeadTile];
  for (int t = 0; t < kTokens; ++t) {
    for (int i = 0; i < M::kEmbd; ++i) {
      x[t][i] = t < count ? normed[first + t][i] : act_t(0);
    }
  }
  QuantLinear<Config>(x, tile.w, tile.bias, tile.shift, tile.mult, y);
  for (int t = 0; t < count; ++t) {
    uint8_t bytes[4 * kHeadTile];
    for (int o = 0; o < kHeadTile; ++o) {
      const uint32_t u = static_cast<uint32_t>(y[t][o].to_int());
      for (int b = 0; b < 4; ++b) bytes[4 * o + b] = uint8_t(u >> (8 * b));
    }
    WriteBytes(logits, 4ull * ((first + t) * uint64_t(M::kVocabPadded) + o0),
               4 * kHeadTile, bytes);
  }
}

template <class M>
void HeadStage(const word_t* head,
               const act_t normed[device::kMaxLogitRows][M::kEmbd], int rows,
               word_t* logits) {
  constexpr device::HeadLayout kLayout = device::LayOutHead(DimsOf<M>());
  static LinearParams<M::kEmbd, kHeadTile, 8> tile;
head_tile_loop:
  for (int o0 = 0; o0 < M::kVocabPadded; o0 += kHeadTile) {
    LoadLinear(head, kLayout.lm_head, o0, tile);
    int first = 0;
    // Groups of kPrefillTokens rows share the GEMM unit; a short tail
    // goes row by row through the GEMV one (the same bits either way).
    for (; rows - first >= 4; first += kPrefillTokens) {
      const int count =
          rows - first < kPrefillTokens ? rows - first : kPrefillTokens;
      HeadTileRows<M, kPrefillTokens>(tile, normed, first, count, o0, logits);
    }
    for (; first < rows; ++first) {
      HeadTileRows<M, 1>(tile, normed, first, 1, o0, logits);
    }
  }
}

// Final LayerNorm of every row that wants logits, in logits-row order.
template <class M>
int NormLogitRows(const word_t* head, const StepEntry* entries, int count,
                  const resid_t h[device::kMaxStepTokens][M::kEmbd],
                  act_t normed[device::kMaxLogitRows][M::kEmbd]) {
  constexpr device::HeadLayout kLayout = device::LayOutHead(DimsOf<M>());
  static LayerNormParams<M::kEmbd> ln_f;
  LoadLayerNorm(head, kLayout.ln_f, ln_f);
  int rows = 0;
norm_entry_loop:
  for (int e = 0; e < count; ++e) {
    const int n = entries[e].rows();
    const int first_token = entries[e].n - n;  // The last n tokens.
    for (int r = 0; r < n; ++r) {
      ResidStream<M::kEmbd> in("ln_f_in");
      hls::stream<Vec<act_t, M::kEmbd>> out("ln_f_out");
      Vec<resid_t, M::kEmbd> row;
      for (int i = 0; i < M::kEmbd; ++i) {
        row.v[i] = h[entries[e].token_offset + first_token + r][i];
      }
      in.write(row);
      LayerNormStage<M>(in, ln_f, out, 1);
      const Vec<act_t, M::kEmbd> y = out.read();
      const int at = entries[e].logits_row + r;
      for (int i = 0; i < M::kEmbd; ++i) normed[at][i] = y.v[i];
      if (at + 1 > rows) rows = at + 1;
    }
  }
  return rows;
}

// The whole step. Writes kBadEntries, kClamped and kDone into the
// descriptor's header, and the launch id after the last logits row.
template <class M>
void Gpt2Step(const StepBuffers<M>& b) {
  StepHeader h;
  h.entries = StepWord(b.step, device::step::kEntries);
  h.tokens = StepWord(b.step, device::step::kTokens);
  h.logit_rows = StepWord(b.step, device::step::kLogitRows);
  h.table_stride = StepWord(b.step, device::step::kTableStride);
  h.block_tokens = StepWord(b.step, device::step::kBlockTokens);
  h.kv_blocks = StepWord(b.step, device::step::kKvBlocks);
  int bad = 0, clamped = 0;
  static StepEntry entries[device::kMaxStepEntries];
  int count = 0;
  const bool header_ok =
      StepWord(b.step, device::step::kMagic) == device::kStepMagic &&
      h.entries >= 0 && h.entries <= device::kMaxStepEntries && h.tokens >= 0 &&
      h.tokens <= device::kMaxStepTokens && h.logit_rows >= 0 &&
      h.logit_rows <= device::kMaxLogitRows && h.block_tokens > 0 &&
      h.table_stride > 0 && h.kv_blocks > 0;
  if (header_ok) {
  read_entry_loop:
    for (int e = 0; e < h.entries; ++e) {
      if (ReadStepEntry<M>(b.step, h, e, entries[count])) {
        ++count;
      } else {
        ++bad;
      }
    }
  } else {
    bad = h.entries;
  }
  static resid_t hidden[device::kMaxStepTokens][M::kEmbd];
  for (int e = 0; e < count; ++e) {
    clamped += EmbedEntry<M>(b.emb, b.step, entries[e], hidden);
  }
  device::KvLayout kv_layout;
  kv_layout.dims = DimsOf<M>();
  kv_layout.block_tokens = h.block_tokens;
  static LayerParams<M> layer_params;
  static KvRows<M> kv_rows;
step_layer_loop:
  for (int l = 0; l < M::kLayers && count > 0; ++l) {
    LoadLayer<M>(b.attn, b.mlp, l, layer_params);
    for (int e = 0; e < count; ++e) {
      const StepEntry& entry = entries[e];
      const int end = entry.start_pos + entry.n;
      GatherKv<M>(b.kv, kv_layout, b.step, entry, l, 0, entry.start_pos,
                  kv_rows);
      if (entry.n == 1) {
        RunEntryLayer<M, 1>(layer_params, kv_rows, entry, hidden);
      } else {
        RunEntryLayer<M, kPrefillTokens>(layer_params, kv_rows, entry, hidden);
      }
      ScatterKv<M>(b.kv, kv_layout, b.step, entry, l, entry.start_pos, end,
                   kv_rows);
    }
  }
  static act_t normed[device::kMaxLogitRows][M::kEmbd];
  const int rows = NormLogitRows<M>(b.head, entries, count, hidden, normed);
  if (rows > 0) HeadStage<M>(b.head, normed, rows, b.logits);
  const int launch_id = StepWord(b.step, device::step::kLaunchId);
  WriteInt32(b.logits, 4ull * rows * M::kVocabPadded, launch_id);
  WriteInt32(b.step, 4ull * device::step::kBadEntries, bad);
  WriteInt32(b.step, 4ull * device::step::kClamped, clamped);
  WriteInt32(b.step, 4ull * device::step::kDone, launch_id);
}

}  // namespace fxserve::kernels::gpt2

#endif  // FXSERVE_KERNELS_TOP_GPT2_STEP_H_
