// Depthwise k x k convolution (kernels/conv/depthwise_conv2d.h) against the
// contract's integer definition: k = 3 and 5, strides 1 and 2 on odd and
// even sizes (SAME padding on both sides, maps narrower than the kernel, a
// single pixel), int8 and int4 weights, both scale modes, every epilogue,
// full-range values (saturation) and small ones (rounding ties); uint8
// inputs and outputs (the contract's unsigned tensors).
#include "kernels/conv/depthwise_conv2d.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>

#include "tests/kernels/detect/conv_reference.h"

namespace fxserve::kernels::detect_test {
namespace {

template <int kH, int kW, int kC, int kK, int kS, ConvEpilogue kE,
          ScaleMode kMode, int kBits, int kP = 1>
struct Cfg {
  using weight_t = ap_int<kBits>;
  static constexpr int kHeight = kH;
  static constexpr int kWidth = kW;
  static constexpr int kChannels = kC;
  static constexpr int kKernel = kK;
  static constexpr int kStride = kS;
  static constexpr ConvEpilogue kEpilogue = kE;
  static constexpr ScaleMode kScaleMode = kMode;
  static constexpr int kPe = kP;
  static constexpr int kWeightBits = kBits;
};

template <class Config>
ConvShape ShapeOf() {
  ConvShape g;
  g.h = Config::kHeight;
  g.w = Config::kWidth;
  g.cin = g.cout = Config::kChannels;
  g.k = Config::kKernel;
  g.s = Config::kStride;
  g.depthwise = true;
  return g;
}

template <class Config>
std::vector<int64_t> RunDepthwise(const ConvCase& c) {
  constexpr int kK = Config::kKernel;
  constexpr int kC = Config::kChannels;
  struct Buffers {
    typename Config::weight_t w[kK][kK][kC];
    conv_bias_t bias[kC];
    conv_shift_t shift[kC];
    conv_mult_t mult[kC];
    frac_reg_t p[kC];
    frac_reg_t f_y[kC];
  };
  auto b = std::make_unique<Buffers>();
  for (int ky = 0; ky < kK; ++ky) {
    for (int kx = 0; kx < kK; ++kx) {
      for (int ch = 0; ch < kC; ++ch) {
        b->w[ky][kx][ch] = c.w[(ky * kK + kx) * kC + ch];
      }
    }
  }
  FillRegs<kC>(c.regs, b->bias, b->shift, b->mult);
  FillFracs<kC>(c.p, b->p);
  FillFracs<kC>(c.f_y, b->f_y);
  PixelStream<InCode<Config>, kC> in;
  PushMap(c.x, in);
  PixelStream<ConvOut<Config>, kC> out;
  DepthwiseConv2d<Config>(in, b->w, b->bias, b->shift, b->mult, b->p, b->f_y,
                          out);
  EXPECT_EQ(in.size(), 0u) << "every input pixel is consumed";
  return PopMap(out, c.shape.OutH() * c.shape.OutW());
}

template <class Config>
void CheckConfig(unsigned seed, int trials = 4) {
  std::mt19937 rng(seed);
  const ConvShape shape = ShapeOf<Config>();
  for (int t = 0; t < trials; ++t) {
    for (Values values : {Values::kFull, Values::kSmall}) {
      ConvCase c =
          MakeConvCase(rng, shape, Config::kEpilogue, Config::kScaleMode,
                       Config::kWeightBits,
                       CodeTraits<InCode<Config>>::kUnsigned, values, t == 0);
      c.out = CodesOf<OutCode<Config>>();
      ExpectSameMap(RunDepthwise<Config>(c), ConvRef(c), shape.OutW(),
                    shape.cout,
                    "trial " + std::to_string(t) +
                        (values == Values::kSmall ? " small" : " full"));
      if (::testing::Test::HasFailure()) return;
    }
  }
}

using E = ConvEpilogue;
using M = ScaleMode;

TEST(DepthwiseConv2d, ThreeByThree) {
  RefCoverage().Reset();
  CheckConfig<Cfg<7, 9, 8, 3, 1, E::kRelu, M::kPow2, 8, 4>>(1);
  CheckConfig<Cfg<8, 8, 4, 3, 2, E::kHardSwish, M::kFixed, 8, 2>>(2);
  CheckConfig<Cfg<4, 4, 8, 3, 2, E::kNone, M::kFixed, 8, 8>>(3);
  CheckConfig<Cfg<1, 1, 3, 3, 1, E::kRelu, M::kFixed, 4>>(4);
  CheckConfig<Cfg<5, 6, 3, 3, 2, E::kLogits, M::kPow2, 4, 3>>(5);
  ExpectTiesAndSaturation();
}

TEST(DepthwiseConv2d, FiveByFive) {
  RefCoverage().Reset();
  CheckConfig<Cfg<9, 6, 6, 5, 2, E::kNone, M::kPow2, 4, 3>>(10);
  CheckConfig<Cfg<5, 7, 4, 5, 1, E::kHardSwish, M::kPow2, 4, 4>>(11);
  CheckConfig<Cfg<2, 3, 2, 5, 2, E::kLogits, M::kFixed, 8>>(12);
  CheckConfig<Cfg<6, 1, 5, 5, 1, E::kHardSwish, M::kFixed, 8, 5>>(13);
  CheckConfig<Cfg<8, 10, 4, 5, 2, E::kRelu, M::kFixed, 8, 2>>(14);
  ExpectTiesAndSaturation();
}

TEST(DepthwiseConv2d, Uint8InputsAndOutputs) {
  RefCoverage().Reset();
  // The backbone's relu blocks: uint8 in, relu into uint8.
  CheckConfig<WithCodes<Cfg<7, 8, 8, 3, 1, E::kRelu, M::kFixed, 8, 4>, uact8_t,
                        uact8_t>>(20);
  CheckConfig<WithCodes<Cfg<8, 7, 4, 3, 2, E::kRelu, M::kPow2, 4, 2>, uact8_t,
                        uact8_t>>(21);
  CheckConfig<WithCodes<Cfg<9, 9, 6, 5, 2, E::kRelu, M::kFixed, 4, 3>, uact8_t,
                        uact8_t>>(22);
  // The head: uint8 in, int8 out; and int8 in, uint8 out.
  CheckConfig<
      WithCodes<Cfg<6, 5, 4, 5, 1, E::kNone, M::kPow2, 8, 2>, uact8_t, act8_t>>(
      23);
  CheckConfig<
      WithCodes<Cfg<5, 6, 3, 3, 1, E::kNone, M::kFixed, 8>, act8_t, uact8_t>>(
      24);
  CheckConfig<WithCodes<Cfg<4, 5, 4, 3, 2, E::kHardSwish, M::kPow2, 8, 4>,
                        uact8_t, uact8_t>>(25);
  ExpectTiesAndSaturation();
}

TEST(DepthwiseConv2d, ExtremeCodesDoNotOverflow) {
  using C = Cfg<3, 4, 2, 5, 1, E::kHardSwish, M::kFixed, 8>;
  ConvCase c;
  c.shape = ShapeOf<C>();
  c.epilogue = E::kHardSwish;
  c.mode = M::kFixed;
  c.x.assign(3 * 4 * 2, -128);
  c.w.assign(5 * 5 * 2, -128);
  c.regs.bias = {INT32_MAX, INT32_MIN};
  c.regs.shift = {20, 33};
  c.regs.mult = {(1 << 16) - 1, (1 << 16) - 1};
  for (int p : {0, 12}) {
    for (int f_y : {-8, 16}) {
      c.p = {p, 12 - p};
      c.f_y = {f_y, 8 - f_y};
      ExpectSameMap(RunDepthwise<C>(c), ConvRef(c), 4, 2, "extremes");
    }
  }
  // uint8 inputs at 255 under the most negative weights.
  using U = WithCodes<C, uact8_t, uact8_t>;
  c.x.assign(3 * 4 * 2, 255);
  c.out = kUint8Codes;
  c.p = {3, 12};
  c.f_y = {0, 16};
  ExpectSameMap(RunDepthwise<U>(c), ConvRef(c), 4, 2, "uint8 extremes");
}

}  // namespace
}  // namespace fxserve::kernels::detect_test
