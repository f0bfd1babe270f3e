// The step top's side of gpt2_device_layout.h: reading and writing the
// byte layout through 512-bit words, and loading one layer's (or the
// head's) parameters from their buffer into the on-chip arrays the block
// units take. Whole words are read once and split into bytes with plain
// shifts, so a C-simulation of a step stays cheap.
#ifndef FXSERVE_KERNELS_TOP_GPT2_DEVICE_IO_H_
#define FXSERVE_KERNELS_TOP_GPT2_DEVICE_IO_H_

#include <ap_int.h>

#include <cstdint>

#include "kernels/top/gpt2_block.h"
#include "kernels/top/gpt2_device_layout.h"

namespace fxserve::kernels::gpt2 {

using word_t = ap_uint<512>;

// The 64 bytes of one word, little-endian.
inline void UnpackWord(const word_t& w, uint8_t bytes[device::kWordBytes]) {
unpack_limb_loop:
  for (int k = 0; k < 8; ++k) {
    const uint64_t limb = w.range(64 * k + 63, 64 * k).to_uint64();
    for (int b = 0; b < 8; ++b) bytes[8 * k + b] = (limb >> (8 * b)) & 0xFF;
  }
}

inline word_t PackWord(const uint8_t bytes[device::kWordBytes]) {
  word_t w = 0;
pack_limb_loop:
  for (int k = 0; k < 8; ++k) {
    uint64_t limb = 0;
    for (int b = 0; b < 8; ++b) limb |= uint64_t{bytes[8 * k + b]} << (8 * b);
    w.range(64 * k + 63, 64 * k) = ap_uint<64>(limb);
  }
  return w;
}

// out[0 .. n) = the n bytes at byte offset `offset` of buf.
inline void ReadBytes(const word_t* buf, uint64_t offset, uint64_t n,
                      uint8_t* out) {
  uint8_t bytes[device::kWordBytes];
  uint64_t done = 0;
read_word_loop:
  while (done < n) {
    const uint64_t at = offset + done;
    const int lane = at % device::kWordBytes;
    UnpackWord(buf[at / device::kWordBytes], bytes);
    for (int b = lane; b < device::kWordBytes && done < n; ++b) {
      out[done++] = bytes[b];
    }
  }
}

// The n bytes at `offset` of buf = in[0 .. n); other bytes keep their
// values (a partial word is read, changed and written back).
inline void WriteBytes(word_t* buf, uint64_t offset, uint64_t n,
                       const uint8_t* in) {
  uint8_t bytes[device::kWordBytes];
  uint64_t done = 0;
write_word_loop:
  while (done < n) {
    const uint64_t at = offset + done;
    const uint64_t index = at / device::kWordBytes;
    const int lane = at % device::kWordBytes;
    UnpackWord(buf[index], bytes);
    for (int b = lane; b < device::kWordBytes && done < n; ++b) {
      bytes[b] = in[done++];
    }
    buf[index] = PackWord(bytes);
  }
}

inline int32_t Int32At(const uint8_t* p) {
  return static_cast<int32_t>(uint32_t{p[0]} | uint32_t{p[1]} << 8 |
                              uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24);
}

// n int32 values at offset (a word-aligned section), in chunks of words.
template <class F>
void ForEachInt32(const word_t* buf, uint64_t offset, int n, F&& use) {
  uint8_t bytes[device::kWordBytes];
int32_word_loop:
  for (int i0 = 0; i0 < n; i0 += device::kWordBytes / 4) {
    UnpackWord(buf[offset / device::kWordBytes + i0 / 16], bytes);
    for (int j = 0; j < 16 && i0 + j < n; ++j)
      use(i0 + j, Int32At(bytes + 4 * j));
  }
}

inline int32_t ReadInt32(const word_t* buf, uint64_t offset) {
  uint8_t bytes[4];
  ReadBytes(buf, offset, 4, bytes);
  return Int32At(bytes);
}

inline void WriteInt32(word_t* buf, uint64_t offset, int32_t value) {
  const uint32_t u = static_cast<uint32_t>(value);
  const uint8_t bytes[4] = {uint8_t(u), uint8_t(u >> 8), uint8_t(u >> 16),
                            uint8_t(u >> 24)};
  WriteBytes(buf, offset, 4, bytes);
}

// Rows [row0, row0 + kOut) of a linear stored with kAllOut rows (the LM
// head is loaded a tile at a time; block linears have row0 = 0).
template <int kIn, int kOut, int kBits>
void LoadLinear(const word_t* buf, const device::LinearLayout& layout, int row0,
                LinearParams<kIn, kOut, kBits>& p) {
  using Params = LinearParams<kIn, kOut, kBits>;
  uint8_t row[kIn];
  const int stored_row0 = kBits == 8 ? row0 : row0 / 2;
linear_weight_row_loop:
  for (int r = 0; r < Params::kRows; ++r) {
    ReadBytes(buf, layout.weights + uint64_t(stored_row0 + r) * kIn, kIn, row);
    for (int i = 0; i < kIn; ++i) {
      if constexpr (kBits == 8) {
        p.w[r][i] = static_cast<int8_t>(row[i]);
      } else {
        p.w[r][i] = row[i];
      }
    }
  }
  uint8_t shift[kOut];
  uint8_t mult[2 * kOut];
  ForEachInt32(buf, layout.bias + 4ull * row0, kOut,
               [&](int o, int32_t v) { p.bias[o] = v; });
  ReadBytes(buf, layout.shift + row0, kOut, shift);
  ReadBytes(buf, layout.mult + 2ull * row0, 2 * kOut, mult);
linear_channel_loop:
  for (int o = 0; o < kOut; ++o) {
    p.shift[o] = static_cast<int8_t>(shift[o]);
    p.mult[o] = uint16_t(mult[2 * o] | mult[2 * o + 1] << 8);
  }
}

template <int kN>
void LoadLayerNorm(const word_t* buf, const device::LayerNormLayout& layout,
                   LayerNormParams<kN>& p) {
  p.out_shift = ReadInt32(buf, layout.out_shift);
  ForEachInt32(buf, layout.gamma, kN, [&](int i, int32_t v) {
    p.gamma[i] = FromRawBits<ln_param_t>(ap_int<24>(v));
  });
  ForEachInt32(buf, layout.beta, kN, [&](int i, int32_t v) {
    p.beta[i] = FromRawBits<ln_param_t>(ap_int<24>(v));
  });
}

}  // namespace fxserve::kernels::gpt2

#endif  // FXSERVE_KERNELS_TOP_GPT2_DEVICE_IO_H_
