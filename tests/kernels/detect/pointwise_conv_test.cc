// 1 x 1 convolution (kernels/conv/pointwise_conv.h) against the contract's
// integer definition, and against the full conv kernel with k = 1: int8 and
// UQ(8, 0) inputs, int8 and int4 weights, both scale modes, every
// epilogue, the model's widest input (720 channels), odd channel counts;
// uint8 inputs and outputs (the contract's unsigned tensors).
#include "kernels/conv/pointwise_conv.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <type_traits>

#include "kernels/conv/conv2d.h"
#include "tests/kernels/detect/conv_reference.h"

namespace fxserve::kernels::detect_test {
namespace {

template <int kH, int kW, int kCin, int kCout, ConvEpilogue kE, ScaleMode kMode,
          int kBits, int kP = 1, bool kImage = false>
struct Cfg {
  using in_t = std::conditional_t<kImage, ap_uint<8>, ap_int<8>>;
  using weight_t = ap_int<kBits>;
  static constexpr int kHeight = kH;
  static constexpr int kWidth = kW;
  static constexpr int kInChannels = kCin;
  static constexpr int kOutChannels = kCout;
  static constexpr int kKernel = 1;  // For Conv2d.
  static constexpr int kStride = 1;
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
  return g;
}

template <class Config>
struct Buffers {
  typename Config::weight_t w[Config::kInChannels][Config::kOutChannels];
  typename Config::weight_t w4[1][1][Config::kInChannels][Config::kOutChannels];
  conv_bias_t bias[Config::kOutChannels];
  conv_shift_t shift[Config::kOutChannels];
  conv_mult_t mult[Config::kOutChannels];
  frac_reg_t p[Config::kOutChannels];
  frac_reg_t f_y[Config::kOutChannels];
};

template <class Config>
std::unique_ptr<Buffers<Config>> MakeBuffers(const ConvCase& c) {
  auto b = std::make_unique<Buffers<Config>>();
  for (int i = 0; i < Config::kInChannels; ++i) {
    for (int o = 0; o < Config::kOutChannels; ++o) {
      b->w[i][o] = c.w[i * Config::kOutChannels + o];
      b->w4[0][0][i][o] = b->w[i][o];
    }
  }
  FillRegs<Config::kOutChannels>(c.regs, b->bias, b->shift, b->mult);
  FillFracs<Config::kOutChannels>(c.p, b->p);
  FillFracs<Config::kOutChannels>(c.f_y, b->f_y);
  return b;
}

template <class Config>
std::vector<int64_t> RunPointwise(const ConvCase& c) {
  auto b = MakeBuffers<Config>(c);
  PixelStream<typename Config::in_t, Config::kInChannels> in;
  PushMap(c.x, in);
  PixelStream<ConvOut<Config>, Config::kOutChannels> out;
  PointwiseConv<Config>(in, b->w, b->bias, b->shift, b->mult, b->p, b->f_y,
                        out);
  EXPECT_EQ(in.size(), 0u);
  return PopMap(out, Config::kHeight * Config::kWidth);
}

template <class Config>
std::vector<int64_t> RunAsConv2d(const ConvCase& c) {
  auto b = MakeBuffers<Config>(c);
  PixelStream<typename Config::in_t, Config::kInChannels> in;
  PushMap(c.x, in);
  PixelStream<ConvOut<Config>, Config::kOutChannels> out;
  Conv2d<Config>(in, b->w4, b->bias, b->shift, b->mult, b->p, b->f_y, out);
  return PopMap(out, Config::kHeight * Config::kWidth);
}

template <class Config>
void CheckConfig(unsigned seed, int trials = 4) {
  std::mt19937 rng(seed);
  const ConvShape shape = ShapeOf<Config>();
  for (int t = 0; t < trials; ++t) {
    for (Values values : {Values::kFull, Values::kSmall}) {
      ConvCase c = MakeConvCase(rng, shape, Config::kEpilogue,
                                Config::kScaleMode, Config::kWeightBits,
                                Config::kImageInput, values, t == 0);
      c.out = CodesOf<OutCode<Config>>();
      const std::vector<int64_t> want = ConvRef(c);
      const std::string what = "trial " + std::to_string(t) +
                               (values == Values::kSmall ? " small" : " full");
      ExpectSameMap(RunPointwise<Config>(c), want, shape.w, shape.cout, what);
      ExpectSameMap(RunAsConv2d<Config>(c), want, shape.w, shape.cout,
                    what + " (Conv2d, k = 1)");
      if (::testing::Test::HasFailure()) return;
    }
  }
}

using E = ConvEpilogue;
using M = ScaleMode;

TEST(PointwiseConv, EveryEpilogueAndScaleMode) {
  RefCoverage().Reset();
  CheckConfig<Cfg<3, 4, 8, 16, E::kHardSwish, M::kPow2, 8, 4>>(1);
  CheckConfig<Cfg<2, 5, 16, 8, E::kNone, M::kFixed, 4, 8>>(2);
  CheckConfig<Cfg<1, 3, 5, 3, E::kRelu, M::kPow2, 8>>(3);
  CheckConfig<Cfg<4, 1, 7, 12, E::kLogits, M::kFixed, 8, 6>>(4);
  CheckConfig<Cfg<2, 3, 6, 4, E::kHardSwish, M::kFixed, 4, 2>>(5);
  CheckConfig<Cfg<3, 3, 4, 5, E::kLogits, M::kPow2, 4, 5>>(6);
  ExpectTiesAndSaturation();
}

TEST(PointwiseConv, ImageInput) {
  CheckConfig<Cfg<2, 2, 3, 4, E::kRelu, M::kFixed, 4, 2, true>>(10);
  CheckConfig<Cfg<3, 1, 3, 8, E::kNone, M::kPow2, 8, 8, true>>(11);
}

TEST(PointwiseConv, Uint8InputsAndOutputs) {
  RefCoverage().Reset();
  // The head's 1 x 1 convs into a concat: int8 or uint8 in, uint8 out.
  CheckConfig<WithCodes<Cfg<3, 4, 18, 16, E::kNone, M::kFixed, 8, 4, true>,
                        ap_uint<8>, uact8_t>>(30);
  CheckConfig<
      WithCodes<Cfg<2, 3, 8, 6, E::kNone, M::kPow2, 4, 2>, act8_t, uact8_t>>(
      31);
  // Expansions: relu into uint8; projections of a uint8 map into int8.
  CheckConfig<
      WithCodes<Cfg<3, 3, 6, 8, E::kRelu, M::kPow2, 4, 8>, act8_t, uact8_t>>(
      32);
  CheckConfig<WithCodes<Cfg<2, 2, 24, 4, E::kNone, M::kFixed, 8, 4, true>,
                        ap_uint<8>, act8_t>>(33);
  CheckConfig<WithCodes<Cfg<2, 2, 5, 4, E::kHardSwish, M::kFixed, 8, 4, true>,
                        ap_uint<8>, uact8_t>>(34);
  ExpectTiesAndSaturation();
}

TEST(PointwiseConv, WidestInputOfTheModel) {
  CheckConfig<Cfg<1, 2, 720, 16, E::kNone, M::kPow2, 8, 8>>(20, 2);
  CheckConfig<Cfg<1, 1, 720, 8, E::kHardSwish, M::kFixed, 4, 4>>(21, 2);
  // All codes at -128: the largest accumulator of the model, 720 * 2^14.
  using C = Cfg<1, 1, 720, 2, E::kLogits, M::kFixed, 8, 2>;
  ConvCase c;
  c.shape = ShapeOf<C>();
  c.epilogue = E::kLogits;
  c.mode = M::kFixed;
  c.x.assign(720, -128);
  c.w.assign(720 * 2, -128);
  c.regs.bias = {INT32_MAX, 0};
  c.regs.shift = {48, 36};
  c.regs.mult = {(1 << 16) - 1, 1 << 15};
  c.p = {0, 0};
  c.f_y = {0, 0};
  ExpectSameMap(RunPointwise<C>(c), ConvRef(c), 1, 2, "extremes");
}

}  // namespace
}  // namespace fxserve::kernels::detect_test
