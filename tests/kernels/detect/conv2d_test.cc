// Full k x k convolution (kernels/conv/conv2d.h) against the contract's
// integer definition: odd and even sizes, strides 1 and 2 (SAME padding
// before and after), kernels of 1, 3 and 5 taps including ones larger than
// the map, the stem's UQ(8, 0) image input, int8 and int4 weights, both
// scale modes and every epilogue, with full-range values (saturation) and
// small ones (rounding ties); hard-swish's P and F(y) per channel or per
// tensor; uint8 inputs and outputs (the contract's unsigned tensors).
#include "kernels/conv/conv2d.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <type_traits>

#include "tests/kernels/detect/conv_reference.h"

namespace fxserve::kernels::detect_test {
namespace {

template <int kH, int kW, int kCin, int kCout, int kK, int kS, ConvEpilogue kE,
          ScaleMode kMode, int kBits, bool kImage = false, int kP = 2>
struct Cfg {
  using in_t = std::conditional_t<kImage, ap_uint<8>, ap_int<8>>;
  using weight_t = ap_int<kBits>;
  static constexpr int kHeight = kH;
  static constexpr int kWidth = kW;
  static constexpr int kInChannels = kCin;
  static constexpr int kOutChannels = kCout;
  static constexpr int kKernel = kK;
  static constexpr int kStride = kS;
  static constexpr ConvEpilogue kEpilogue = kE;
  static constexpr ScaleMode kScaleMode = kMode;
  static constexpr int kPe = kP;
  static constexpr int kWeightBits = kBits;
  static constexpr bool kImageInput = kImage;
};

template <class Config>
ConvShape ShapeOf() {
  ConvShape g;
  g.h = Config::kHeight;
  g.w = Config::kWidth;
  g.cin = Config::kInChannels;
  g.cout = Config::kOutChannels;
  g.k = Config::kKernel;
  g.s = Config::kStride;
  return g;
}

template <class Config>
std::vector<int64_t> RunConv2d(const ConvCase& c) {
  constexpr int kK = Config::kKernel;
  constexpr int kCin = Config::kInChannels;
  constexpr int kCout = Config::kOutChannels;
  struct Buffers {
    typename Config::weight_t w[kK][kK][kCin][kCout];
    conv_bias_t bias[kCout];
    conv_shift_t shift[kCout];
    conv_mult_t mult[kCout];
    frac_reg_t p[kCout];
    frac_reg_t f_y[kCout];
  };
  auto b = std::make_unique<Buffers>();
  for (int ky = 0; ky < kK; ++ky) {
    for (int kx = 0; kx < kK; ++kx) {
      for (int i = 0; i < kCin; ++i) {
        for (int o = 0; o < kCout; ++o) {
          b->w[ky][kx][i][o] = c.w[((ky * kK + kx) * kCin + i) * kCout + o];
        }
      }
    }
  }
  FillRegs<kCout>(c.regs, b->bias, b->shift, b->mult);
  FillFracs<kCout>(c.p, b->p);
  FillFracs<kCout>(c.f_y, b->f_y);
  PixelStream<typename Config::in_t, kCin> in;
  PushMap(c.x, in);
  PixelStream<ConvOut<Config>, kCout> out;
  Conv2d<Config>(in, b->w, b->bias, b->shift, b->mult, b->p, b->f_y, out);
  EXPECT_EQ(in.size(), 0u) << "every input pixel is consumed";
  return PopMap(out, c.shape.OutH() * c.shape.OutW());
}

// Several random cases of one config, each value kind.
template <class Config>
void CheckConfig(unsigned seed, int trials = 4) {
  std::mt19937 rng(seed);
  const ConvShape shape = ShapeOf<Config>();
  for (int t = 0; t < trials; ++t) {
    for (Values values : {Values::kFull, Values::kSmall}) {
      // Trial 0: P and F(y) per tensor, as NUMERICS.md states them.
      ConvCase c = MakeConvCase(rng, shape, Config::kEpilogue,
                                Config::kScaleMode, Config::kWeightBits,
                                Config::kImageInput, values, t == 0);
      c.out = CodesOf<OutCode<Config>>();
      const std::vector<int64_t> want = ConvRef(c);
      const std::vector<int64_t> got = RunConv2d<Config>(c);
      ExpectSameMap(got, want, shape.OutW(), shape.cout,
                    "trial " + std::to_string(t) +
                        (values == Values::kSmall ? " small" : " full"));
      if (::testing::Test::HasFailure()) return;
    }
  }
}

using E = ConvEpilogue;
using M = ScaleMode;

TEST(Conv2d, StemImageInputHardSwish) {
  RefCoverage().Reset();
  // The stem's shape, smaller: UQ(8, 0) RGB, 3 x 3, stride 2.
  CheckConfig<Cfg<9, 7, 3, 8, 3, 2, E::kHardSwish, M::kPow2, 8, true, 4>>(1);
  CheckConfig<Cfg<8, 8, 3, 4, 3, 2, E::kHardSwish, M::kFixed, 8, true>>(2);
  CheckConfig<Cfg<8, 6, 3, 16, 3, 2, E::kNone, M::kPow2, 4, true, 16>>(3);
  ExpectTiesAndSaturation();
}

TEST(Conv2d, StrideOneSamePadding) {
  RefCoverage().Reset();
  CheckConfig<Cfg<6, 5, 4, 6, 3, 1, E::kNone, M::kPow2, 4>>(10);
  CheckConfig<Cfg<4, 7, 3, 2, 5, 1, E::kLogits, M::kPow2, 8, false, 1>>(11);
  CheckConfig<Cfg<5, 3, 4, 8, 1, 1, E::kRelu, M::kPow2, 8, false, 8>>(12);
  CheckConfig<Cfg<1, 1, 3, 4, 3, 1, E::kLogits, M::kFixed, 4>>(13);
  ExpectTiesAndSaturation();
}

TEST(Conv2d, StrideTwoSamePadding) {
  RefCoverage().Reset();
  // 5 x 5 on odd and even sizes; the kernel wider than the map.
  CheckConfig<Cfg<5, 5, 2, 4, 5, 2, E::kRelu, M::kFixed, 8>>(20);
  CheckConfig<Cfg<3, 2, 2, 2, 5, 2, E::kRelu, M::kPow2, 8>>(21);
  CheckConfig<Cfg<7, 7, 1, 3, 3, 2, E::kHardSwish, M::kFixed, 4, false, 3>>(22);
  CheckConfig<Cfg<6, 9, 3, 4, 3, 2, E::kLogits, M::kFixed, 8>>(23);
  ExpectTiesAndSaturation();
}

TEST(Conv2d, Uint8InputsAndOutputs) {
  RefCoverage().Reset();
  // kImage = true: uint8 input codes 0 .. 255, here a relu'd tensor.
  CheckConfig<WithCodes<Cfg<7, 6, 4, 6, 3, 1, E::kNone, M::kPow2, 8, true, 2>,
                        ap_uint<8>, uact8_t>>(40);
  CheckConfig<WithCodes<Cfg<6, 5, 3, 4, 5, 2, E::kRelu, M::kFixed, 4, true, 4>,
                        ap_uint<8>, uact8_t>>(41);
  CheckConfig<WithCodes<Cfg<5, 7, 2, 4, 3, 2, E::kHardSwish, M::kFixed, 8>,
                        ap_int<8>, uact8_t>>(42);
  CheckConfig<WithCodes<Cfg<4, 4, 3, 2, 3, 1, E::kNone, M::kFixed, 8, true>,
                        ap_uint<8>, act8_t>>(43);
  CheckConfig<WithCodes<Cfg<4, 3, 2, 3, 3, 1, E::kLogits, M::kPow2, 8, true, 1>,
                        ap_uint<8>, uact8_t>>(44);
  ExpectTiesAndSaturation();
}

TEST(Conv2d, OneByOneStrideTwoDrainsUnusedRows) {
  // An even height under a 1 x 1, stride-2 kernel never needs the last
  // row; the kernel still consumes it (checked in RunConv2d).
  CheckConfig<Cfg<6, 7, 5, 4, 1, 2, E::kNone, M::kFixed, 4>>(30);
  CheckConfig<Cfg<5, 4, 2, 2, 1, 2, E::kHardSwish, M::kPow2, 8>>(31);
}

TEST(Conv2d, ExtremeCodesDoNotOverflow) {
  // Every input and weight at its most negative code: the largest
  // accumulator, with the largest bias, through both scale modes.
  using C8 = Cfg<3, 3, 8, 2, 3, 1, E::kLogits, M::kFixed, 8>;
  ConvCase c;
  c.shape = ShapeOf<C8>();
  c.epilogue = E::kLogits;
  c.mode = M::kFixed;
  c.x.assign(3 * 3 * 8, -128);
  c.w.assign(3 * 3 * 8 * 2, -128);
  c.regs.bias = {INT32_MAX, INT32_MIN};
  c.regs.shift = {40, 63};
  c.regs.mult = {(1 << 16) - 1, 1 << 15};
  c.p = {0, 0};
  c.f_y = {0, 0};
  ExpectSameMap(RunConv2d<C8>(c), ConvRef(c), 3, 2, "extremes");
  using Img = Cfg<2, 2, 3, 2, 3, 1, E::kNone, M::kPow2, 8, true>;
  ConvCase d;
  d.shape = ShapeOf<Img>();
  d.x.assign(2 * 2 * 3, 255);
  d.w.assign(3 * 3 * 3 * 2, -128);
  d.regs.bias = {0, INT32_MIN};
  d.regs.shift = {-5, 24};
  d.regs.mult = {1 << 15, 1 << 15};
  d.p = {0, 0};
  d.f_y = {0, 0};
  ExpectSameMap(RunConv2d<Img>(d), ConvRef(d), 2, 2, "image extremes");
}

}  // namespace
}  // namespace fxserve::kernels::detect_test
