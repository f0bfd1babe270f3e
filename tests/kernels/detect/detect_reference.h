// The detector contract's integer formulas (kernels/detect/NUMERICS.md) in
// plain int64 / __int128 arithmetic, written from the contract's text and
// sharing no code with the kernels; plus random data and the glue that
// moves vectors in and out of kernel streams. The reference counts the
// rounding ties and saturations it meets, so each test can check that its
// random data reached those cases.
#ifndef FXSERVE_TESTS_KERNELS_DETECT_DETECT_REFERENCE_H_
#define FXSERVE_TESTS_KERNELS_DETECT_DETECT_REFERENCE_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "kernels/conv/conv_epilogue.h"
#include "kernels/conv/feature_map.h"

namespace fxserve::kernels::detect_test {

__extension__ typedef __int128 Int128;

// Cases the reference met since the last Reset().
struct Coverage {
  int64_t ties = 0;       // rne on an exact .5.
  int64_t saturated = 0;  // sat_W clamped.
  int64_t rounded = 0;    // Every rne / left shift.
  void Reset() { *this = Coverage(); }
  std::string ToString() const {
    return std::to_string(rounded) + " roundings, " + std::to_string(ties) +
           " ties, " + std::to_string(saturated) + " saturations";
  }
};
inline Coverage& RefCoverage() {
  static Coverage coverage;
  return coverage;
}

// The cases since RefCoverage().Reset() met ties and saturation.
inline void ExpectTiesAndSaturation() {
  const Coverage& c = RefCoverage();
  std::printf("reference met %s\n", c.ToString().c_str());
  EXPECT_GT(c.ties, 0) << "no rounding tie was tested";
  EXPECT_GT(c.saturated, 0) << "no saturation was tested";
}

// sat_W(v).
inline int64_t Sat(Int128 v, int bits) {
  const Int128 most = (Int128{1} << (bits - 1)) - 1;
  const Int128 least = -(Int128{1} << (bits - 1));
  if (v > most || v < least) ++RefCoverage().saturated;
  return static_cast<int64_t>(std::clamp(v, least, most));
}

// rne(num / den) for den > 0: floor division, then ties to even.
inline Int128 RneDiv(Int128 num, Int128 den) {
  Int128 q = num / den;
  Int128 r = num % den;
  if (r < 0) {
    q -= 1;
    r += den;
  }
  if (2 * r == den) ++RefCoverage().ties;
  if (2 * r > den || (2 * r == den && (q & 1) != 0)) q += 1;
  return q;
}

// requant_W(c, s): sat_W(rne(c / 2^s)) for s > 0, sat_W(c * 2^-s) else.
inline int64_t RequantRef(Int128 c, int s, int bits) {
  ++RefCoverage().rounded;
  if (s > 0) return Sat(RneDiv(c, Int128{1} << s), bits);
  return Sat(c * (Int128{1} << -s), bits);
}

// The codes of an 8-bit tensor: int8, or uint8 for the tensors the
// contract lists as unsigned (requant_8 then saturates to 0 .. 255).
struct CodeRange {
  int64_t least, most;
};
inline constexpr CodeRange kInt8Codes{-128, 127};
inline constexpr CodeRange kUint8Codes{0, 255};

// sat(v) into r.
inline int64_t SatTo(Int128 v, CodeRange r) {
  if (v > r.most || v < r.least) ++RefCoverage().saturated;
  return static_cast<int64_t>(std::clamp<Int128>(v, r.least, r.most));
}

// requant_8(c, s) into r: sat(rne(c / 2^s)) for s > 0, sat(c * 2^-s) else.
inline int64_t RequantTo(Int128 c, int s, CodeRange r) {
  ++RefCoverage().rounded;
  if (s > 0) return SatTo(RneDiv(c, Int128{1} << s), r);
  return SatTo(c * (Int128{1} << -s), r);
}

// mul(c): c for pow2 builds, c * m_o for fixed ones.
inline Int128 MulRef(Int128 sum, int64_t mult, ScaleMode mode) {
  return mode == ScaleMode::kFixed ? sum * mult : sum;
}

// min(max(h + (3 << P), 0), 6 << P).
inline int64_t Relu6Plus3Ref(int64_t h, int p) {
  return std::clamp<int64_t>(h + (int64_t{3} << p), 0, int64_t{6} << p);
}

// The conv epilogues, on the exact accumulator; `out` is the output
// tensor's range (logits are 16 bits whatever it is).
inline int64_t EpilogueRef(ConvEpilogue epilogue, ScaleMode mode, int64_t acc,
                           int64_t bias, int shift, int64_t mult, int p,
                           int f_y, CodeRange out = kInt8Codes) {
  const Int128 v = MulRef(Int128{acc} + bias, mult, mode);
  switch (epilogue) {
    case ConvEpilogue::kNone:
      return RequantTo(v, shift, out);
    case ConvEpilogue::kRelu:
      return std::max<int64_t>(RequantTo(v, shift, out), 0);
    case ConvEpilogue::kHardSwish: {
      const int64_t h = RequantRef(v, shift, 16);
      const int64_t r = Relu6Plus3Ref(h, p);
      return RequantTo(Int128{h} * r * 2730, 2 * p + 14 - f_y, out);
    }
    case ConvEpilogue::kLogits:
      return RequantRef(v, shift, 16);
  }
  return 0;
}

// The contract's sigmoid table entry i, rne(2^15 / (1 + e^-((i - 2048) /
// 256))), from libm in long double (the kernel's table is built from
// constexpr series: the two must agree).
inline int64_t SigmoidTableRef(int i) {
  const long double x = (i - 2048) / 256.0L;
  const long double v = 32768.0L / (1.0L + std::exp(-x));
  const long double down = std::floor(v);
  const long double rest = v - down;
  const int64_t d = static_cast<int64_t>(down);
  if (rest > 0.5L) return d + 1;
  if (rest < 0.5L) return d;
  return d + (d & 1);
}

// sigmoid(z) for a Q(16, 8) code: T[min(max(z, -2048), 2047) + 2048].
inline int64_t SigmoidRef(int64_t z) {
  return SigmoidTableRef(static_cast<int>(std::clamp<int64_t>(z, -2048, 2047)) +
                         2048);
}

// TF SAME padding before the data, one axis.
inline int SamePadBeforeRef(int n, int k, int s) {
  const int out = (n + s - 1) / s;
  return std::max(0, (out - 1) * s + k - n) / 2;
}

// ---------------------------------------------------------------------------
// Random data.

inline int64_t Uniform(std::mt19937& rng, int64_t least, int64_t most) {
  return std::uniform_int_distribution<int64_t>(least, most)(rng);
}

// Codes in [least, most], the two extremes more often than uniform.
inline int64_t RandomCode(std::mt19937& rng, int64_t least, int64_t most) {
  const int64_t pick = Uniform(rng, 0, 15);
  if (pick == 0) return least;
  if (pick == 1) return most;
  return Uniform(rng, least, most);
}

inline std::vector<int64_t> RandomCodes(std::mt19937& rng, size_t n,
                                        int64_t least, int64_t most) {
  std::vector<int64_t> v(n);
  for (int64_t& x : v) x = RandomCode(rng, least, most);
  return v;
}

// Bits of the largest |v| (0 for all zeros).
inline int BitLength(Int128 v) {
  if (v < 0) v = -v;
  int bits = 0;
  while (v > 0) {
    ++bits;
    v >>= 1;
  }
  return bits;
}

// Per-channel output registers for a conv whose channel o reaches
// |mul(acc + bias)| < 2^bits[o]: the shift puts the largest value near
// 2^target, nudged by -3..+2 (negative: saturation), with some channels
// at small or non-positive shifts (ties, exact left shifts) and fixed
// builds' multipliers at their extremes now and then.
struct ChannelRegs {
  std::vector<int64_t> bias, shift, mult;
};

inline std::vector<int64_t> RandomBias(std::mt19937& rng, size_t n,
                                       int64_t magnitude) {
  std::vector<int64_t> bias(n);
  for (size_t o = 0; o < n; ++o) {
    const int64_t pick = Uniform(rng, 0, 19);
    if (pick == 0) {
      bias[o] = INT32_MAX;
    } else if (pick == 1) {
      bias[o] = INT32_MIN;
    } else if (pick < 5) {
      bias[o] = 0;
    } else {
      bias[o] = Uniform(rng, -magnitude, magnitude);
    }
  }
  return bias;
}

inline std::vector<int64_t> RandomMult(std::mt19937& rng, size_t n) {
  std::vector<int64_t> mult(n);
  for (size_t o = 0; o < n; ++o) {
    const int64_t pick = Uniform(rng, 0, 9);
    mult[o] = pick == 0   ? 1 << 15
              : pick == 1 ? (1 << 16) - 1
                          : Uniform(rng, 1 << 15, (1 << 16) - 1);
  }
  return mult;
}

// Shifts from the largest |mul(sum)| of each channel, aiming at 2^target[o].
inline std::vector<int64_t> ShiftsFor(std::mt19937& rng,
                                      const std::vector<Int128>& largest,
                                      const std::vector<int>& target) {
  std::vector<int64_t> shift(largest.size());
  for (size_t o = 0; o < largest.size(); ++o) {
    const int64_t pick = Uniform(rng, 0, 11);
    int s = BitLength(largest[o]) - target[o] +
            static_cast<int>(Uniform(rng, -3, 2));
    if (pick == 0) s = static_cast<int>(Uniform(rng, -3, 0));
    if (pick == 1) s = 1;
    shift[o] = std::clamp(s, -64, 63);
  }
  return shift;
}

// ---------------------------------------------------------------------------
// Vectors in and out of kernel streams. A map is [pixel][channel], flat.

template <class T, int kC>
void PushMap(const std::vector<int64_t>& map, PixelStream<T, kC>& stream) {
  ASSERT_EQ(map.size() % kC, 0u);
  for (size_t i = 0; i < map.size(); i += kC) {
    Pixel<T, kC> pixel;
    for (int c = 0; c < kC; ++c) pixel.c[c] = map[i + c];
    stream.write(pixel);
  }
}

// Pops `pixels` pixels; fewer if the kernel wrote fewer (that is a failure,
// and reading on would block with AMD's stream model).
template <class T, int kC>
std::vector<int64_t> PopMap(PixelStream<T, kC>& stream, int pixels) {
  EXPECT_EQ(stream.size(), static_cast<size_t>(pixels)) << "pixels written";
  const int available = std::min<int>(pixels, static_cast<int>(stream.size()));
  std::vector<int64_t> map;
  map.reserve(static_cast<size_t>(pixels) * kC);
  for (int i = 0; i < available; ++i) {
    const Pixel<T, kC> pixel = stream.read();
    for (int c = 0; c < kC; ++c) map.push_back(pixel.c[c].to_int64());
  }
  return map;
}

// Copies per-channel F / P registers into a kernel's array.
template <int kN>
void FillFracs(const std::vector<int64_t>& f, frac_reg_t out[kN]) {
  for (int c = 0; c < kN; ++c) out[c] = f[c];
}

// Random per-channel F registers in [least, most], the ends more often;
// all equal (a per-tensor F) if per_tensor.
inline std::vector<int64_t> RandomFracs(std::mt19937& rng, int n,
                                        bool per_tensor, int least = kFracMin,
                                        int most = kFracMax) {
  std::vector<int64_t> f(n);
  for (int c = 0; c < n; ++c) {
    if (per_tensor && c > 0) {
      f[c] = f[0];
      continue;
    }
    const int64_t pick = Uniform(rng, 0, 9);
    f[c] = pick == 0 ? least : (pick == 1 ? most : Uniform(rng, least, most));
  }
  return f;
}

// Copies the per-channel registers into a kernel's arrays.
template <int kN>
void FillRegs(const ChannelRegs& regs, conv_bias_t bias[kN],
              conv_shift_t shift[kN], conv_mult_t mult[kN]) {
  for (int o = 0; o < kN; ++o) {
    bias[o] = regs.bias[o];
    shift[o] = regs.shift[o];
    mult[o] = regs.mult[o];
  }
}

// Compares two maps of `channels` channels and `width` columns; reports the
// first few differences by position.
inline void ExpectSameMap(const std::vector<int64_t>& got,
                          const std::vector<int64_t>& want, int width,
                          int channels, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < got.size() && reported < 5; ++i) {
    if (got[i] == want[i]) continue;
    const size_t pixel = i / channels;
    ADD_FAILURE() << what << ": y " << pixel / width << " x " << pixel % width
                  << " c " << i % channels << ": kernel " << got[i]
                  << ", reference " << want[i];
    ++reported;
  }
}

}  // namespace fxserve::kernels::detect_test

#endif  // FXSERVE_TESTS_KERNELS_DETECT_DETECT_REFERENCE_H_
