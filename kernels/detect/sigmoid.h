// The detector's sigmoid (kernels/detect/NUMERICS.md, "Sigmoid"): a table
// of 4096 UQ(16, 15) entries
//   T[i] = rne(2^15 / (1 + e^-((i - 2048) / 256)))
// indexed by the Q(16, 8) input clamped to [-2048, 2047]. The table is
// computed at compile time (kernels/common/constexpr_math.h), so the CPU
// backend reads the very table the hardware holds. Used by the head's
// squeeze-excite gate and for the keypoint map.
#ifndef FXSERVE_KERNELS_DETECT_SIGMOID_H_
#define FXSERVE_KERNELS_DETECT_SIGMOID_H_

#include <ap_int.h>
#include <hls_stream.h>

#include <array>

#include "kernels/common/constexpr_math.h"
#include "kernels/conv/feature_map.h"

namespace fxserve::kernels::detect {

inline constexpr int kSigmoidEntries = 4096;
inline constexpr int kSigmoidInFrac = 8;    // Input Q(16, 8).
inline constexpr int kSigmoidOutFrac = 15;  // Output UQ(16, 15).

using sigmoid_t = ap_uint<16>;  // UQ(16, 15), codes 0 .. 32768.

namespace sigmoid_internal {

// rne(v) for v >= 0 (constexpr_math.h's RoundToInt rounds ties away).
constexpr long long RoundHalfEven(double v) {
  const long long down = static_cast<long long>(v);
  const double rest = v - static_cast<double>(down);
  if (rest > 0.5) return down + 1;
  if (rest < 0.5) return down;
  return down + (down & 1);
}

}  // namespace sigmoid_internal

constexpr std::array<unsigned short, kSigmoidEntries> MakeSigmoidTable() {
  std::array<unsigned short, kSigmoidEntries> table{};
  for (int i = 0; i < kSigmoidEntries; ++i) {
    const double x = (i - kSigmoidEntries / 2) * cmath::Pow2(-kSigmoidInFrac);
    const double v = cmath::Pow2(kSigmoidOutFrac) / (1.0 + cmath::Exp(-x));
    table[i] = static_cast<unsigned short>(sigmoid_internal::RoundHalfEven(v));
  }
  return table;
}

// sigmoid(z) for a Q(16, 8) code z.
inline sigmoid_t SigmoidOne(const pre16_t& z) {
#pragma HLS INLINE
  static constexpr std::array<unsigned short, kSigmoidEntries> kTable =
      MakeSigmoidTable();
  constexpr int kHalf = kSigmoidEntries / 2;
  const int zi = z.to_int();
  const int clamped = zi < -kHalf ? -kHalf : (zi > kHalf - 1 ? kHalf - 1 : zi);
  return sigmoid_t(kTable[clamped + kHalf]);
}

// Example configuration; layers define their own.
struct SigmoidMapConfigExample {
  static constexpr int kHeight = 128;
  static constexpr int kWidth = 128;
  static constexpr int kChannels = 80;  // A multiple of kPe.
  static constexpr int kPe = 8;         // Table reads per cycle.
};

// The keypoint map: sigmoid of every logit, kHeight x kWidth pixels.
template <class Config>
void SigmoidMap(PixelStream<pre16_t, Config::kChannels>& in,
                PixelStream<sigmoid_t, Config::kChannels>& out) {
  static_assert(Config::kChannels % Config::kPe == 0,
                "kChannels must be a multiple of kPe");
sigmoid_pixel_loop:
  for (int i = 0; i < Config::kHeight * Config::kWidth; ++i) {
    const Pixel<pre16_t, Config::kChannels> z = in.read();
    Pixel<sigmoid_t, Config::kChannels> y;
  sigmoid_channel_loop:
    for (int c = 0; c < Config::kChannels; ++c) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = Config::kPe
      y.c[c] = SigmoidOne(z.c[c]);
    }
    out.write(y);
  }
}

}  // namespace fxserve::kernels::detect

#endif  // FXSERVE_KERNELS_DETECT_SIGMOID_H_
