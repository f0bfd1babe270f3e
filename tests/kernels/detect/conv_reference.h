// Random convolution cases and their reference outputs (the contract's
// "Conv": TF SAME padding, exact accumulation, the epilogues), for the
// full, depthwise and pointwise conv kernel tests.
#ifndef FXSERVE_TESTS_KERNELS_DETECT_CONV_REFERENCE_H_
#define FXSERVE_TESTS_KERNELS_DETECT_CONV_REFERENCE_H_

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "tests/kernels/detect/detect_reference.h"

namespace fxserve::kernels::detect_test {

struct ConvShape {
  int h = 1, w = 1;       // Input map.
  int cin = 1, cout = 1;  // Depthwise: cin == cout.
  int k = 1, s = 1;       // Kernel taps per axis, stride.
  bool depthwise = false;
  int OutH() const { return (h + s - 1) / s; }
  int OutW() const { return (w + s - 1) / s; }
};

struct ConvCase {
  ConvShape shape;
  ConvEpilogue epilogue = ConvEpilogue::kNone;
  ScaleMode mode = ScaleMode::kPow2;
  std::vector<int64_t> x;  // [h][w][cin].
  std::vector<int64_t> w;  // [k][k][cin][cout], depthwise [k][k][c].
  ChannelRegs regs;
  std::vector<int64_t> p;      // P per output channel (hard-swish).
  std::vector<int64_t> f_y;    // F(y) per output channel (hard-swish).
  CodeRange out = kInt8Codes;  // The output tensor's (not for logits).
};

// A test config with the unit's optional code types set: In for in_t (a
// conv's input), Out for out_t (its int8 / uint8 output).
template <class Base, class In, class Out>
struct WithCodes : Base {
  using in_t = In;
  using out_t = Out;
};

// The range of an 8-bit code type.
template <class T>
constexpr CodeRange CodesOf() {
  return CodeTraits<T>::kUnsigned ? kUint8Codes : kInt8Codes;
}

// acc[oy][ox][o], exact, padded inputs 0.
inline std::vector<int64_t> ConvAccRef(const ConvShape& g,
                                       const std::vector<int64_t>& x,
                                       const std::vector<int64_t>& w) {
  const int pad_top = SamePadBeforeRef(g.h, g.k, g.s);
  const int pad_left = SamePadBeforeRef(g.w, g.k, g.s);
  std::vector<int64_t> acc(static_cast<size_t>(g.OutH()) * g.OutW() * g.cout);
  for (int oy = 0; oy < g.OutH(); ++oy) {
    for (int ox = 0; ox < g.OutW(); ++ox) {
      for (int o = 0; o < g.cout; ++o) {
        int64_t sum = 0;
        for (int ky = 0; ky < g.k; ++ky) {
          for (int kx = 0; kx < g.k; ++kx) {
            const int iy = oy * g.s - pad_top + ky;
            const int ix = ox * g.s - pad_left + kx;
            if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
            if (g.depthwise) {
              sum += x[(iy * g.w + ix) * g.cin + o] *
                     w[(ky * g.k + kx) * g.cin + o];
            } else {
              for (int i = 0; i < g.cin; ++i) {
                sum += x[(iy * g.w + ix) * g.cin + i] *
                       w[((ky * g.k + kx) * g.cin + i) * g.cout + o];
              }
            }
          }
        }
        acc[(oy * g.OutW() + ox) * g.cout + o] = sum;
      }
    }
  }
  return acc;
}

// How a case's values are drawn.
enum class Values {
  kFull,   // Every code of the types, extremes often.
  kSmall,  // |x| <= 3, |w| <= 2: small sums, so small shifts and many ties.
};

// A random case; the registers are chosen from the exact accumulators so
// that outputs span the output range, with saturation on both sides.
// P and F(y) differ between channels unless per_tensor.
inline ConvCase MakeConvCase(std::mt19937& rng, const ConvShape& shape,
                             ConvEpilogue epilogue, ScaleMode mode,
                             int weight_bits, bool image, Values values,
                             bool per_tensor = false) {
  ConvCase c;
  c.shape = shape;
  c.epilogue = epilogue;
  c.mode = mode;
  const bool small = values == Values::kSmall;
  const int64_t x_min = image ? 0 : (small ? -3 : -128);
  const int64_t x_max = image ? (small ? 3 : 255) : (small ? 3 : 127);
  const int64_t w_max = small ? 2 : (int64_t{1} << (weight_bits - 1)) - 1;
  const int64_t w_min = small ? -2 : -(int64_t{1} << (weight_bits - 1));
  c.x = RandomCodes(rng, static_cast<size_t>(shape.h) * shape.w * shape.cin,
                    x_min, x_max);
  const size_t taps = static_cast<size_t>(shape.k) * shape.k * shape.cin;
  c.w = RandomCodes(rng, shape.depthwise ? taps : taps * shape.cout, w_min,
                    w_max);
  const std::vector<int64_t> acc = ConvAccRef(shape, c.x, c.w);

  int64_t typical = 1;
  for (int64_t a : acc) typical = std::max(typical, a < 0 ? -a : a);
  c.regs.bias = RandomBias(rng, shape.cout, small ? 4 : typical / 2);
  if (small) {  // Extreme biases would swamp the small sums.
    for (int64_t& b : c.regs.bias) b = std::clamp<int64_t>(b, -4, 4);
  }
  c.regs.mult = RandomMult(rng, shape.cout);
  // P in 0..12 and F(y) mostly where hard-swish's outputs use the int8
  // range, sometimes at the contract's ends.
  c.p.resize(shape.cout);
  c.f_y.resize(shape.cout);
  for (int o = 0; o < shape.cout; ++o) {
    if (per_tensor && o > 0) {
      c.p[o] = c.p[0];
      c.f_y[o] = c.f_y[0];
      continue;
    }
    const int64_t p_pick = Uniform(rng, 0, 5);
    c.p[o] = p_pick == 0 ? 0 : (p_pick == 1 ? 12 : Uniform(rng, 0, 12));
    const int64_t f_pick = Uniform(rng, 0, 7);
    c.f_y[o] = f_pick == 0 ? -8 : (f_pick == 1 ? 16 : Uniform(rng, 2, 5));
  }

  std::vector<Int128> largest(shape.cout, 0);
  for (size_t i = 0; i < acc.size(); ++i) {
    const int o = static_cast<int>(i % shape.cout);
    Int128 v = MulRef(Int128{acc[i]} + c.regs.bias[o], c.regs.mult[o], mode);
    if (v < 0) v = -v;
    largest[o] = std::max(largest[o], v);
  }
  std::vector<int> target(shape.cout);
  for (int o = 0; o < shape.cout; ++o) {
    target[o] = epilogue == ConvEpilogue::kLogits ? 15
                : epilogue == ConvEpilogue::kHardSwish
                    ? static_cast<int>(c.p[o]) + 3
                    : 7;
  }
  c.regs.shift = ShiftsFor(rng, largest, target);
  return c;
}

// The reference outputs, [oy][ox][o].
inline std::vector<int64_t> ConvRef(const ConvCase& c) {
  const std::vector<int64_t> acc = ConvAccRef(c.shape, c.x, c.w);
  std::vector<int64_t> y(acc.size());
  for (size_t i = 0; i < acc.size(); ++i) {
    const int o = static_cast<int>(i % c.shape.cout);
    y[i] = EpilogueRef(c.epilogue, c.mode, acc[i], c.regs.bias[o],
                       static_cast<int>(c.regs.shift[o]), c.regs.mult[o],
                       static_cast<int>(c.p[o]), static_cast<int>(c.f_y[o]),
                       c.out);
  }
  return y;
}

}  // namespace fxserve::kernels::detect_test

#endif  // FXSERVE_TESTS_KERNELS_DETECT_CONV_REFERENCE_H_
