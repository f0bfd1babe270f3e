// Squeeze-excite (kernels/detect/squeeze_excite.h) against the contract's
// integer definition: the mean as an exact rational rounded once (power-
// of-two and other map sizes, every F(x), F(m) pair), both gates for every
// input, and whole blocks of several shapes in both scale modes, int8 and
// int4 weights, with registers (per channel or per tensor) drawn so that
// means, gates and outputs saturate and tie; uint8 x, m, r and y (the
// quantizer's: r always, x, m and y together).
#include "kernels/detect/squeeze_excite.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>

#include "tests/kernels/detect/detect_reference.h"

namespace fxserve::kernels::detect_test {
namespace {

using detect::SeGate;

// m = sat_8(rne(S 2^a / (count 2^b))), a = max(F(m) - F(x), 0),
// b = max(F(x) - F(m), 0).
int64_t MeanRef(int64_t sum, int count, int f_x, int f_m,
                CodeRange m = kInt8Codes) {
  const int a = std::max(f_m - f_x, 0);
  const int b = std::max(f_x - f_m, 0);
  return SatTo(RneDiv(Int128{sum} << a, Int128{count} << b), m);
}

template <class T>
CodeRange RangeOf() {
  return CodeTraits<T>::kUnsigned ? kUint8Codes : kInt8Codes;
}

// Every sum of kCount codes of In, into a mean of type Out.
template <int kCount, class In = act8_t, class Out = act8_t>
void CheckMeanEverySum() {
  const CodeRange x = RangeOf<In>();
  for (int f_x = kFracMin; f_x <= kFracMax; ++f_x) {
    for (int f_m = kFracMin; f_m <= kFracMax; ++f_m) {
      for (int64_t s = x.least * kCount; s <= x.most * kCount; ++s) {
        const int64_t got = detect::SeMean<kCount, Out>(
                                conv_acc_t(s), frac_reg_t(f_x), frac_reg_t(f_m))
                                .to_int64();
        ASSERT_EQ(got, MeanRef(s, kCount, f_x, f_m, RangeOf<Out>()))
            << "count " << kCount << " S " << s << " F(x) " << f_x << " F(m) "
            << f_m;
      }
    }
  }
}

TEST(SqueezeExcite, MeanIsTheExactRationalRoundedOnce) {
  RefCoverage().Reset();
  CheckMeanEverySum<1>();
  CheckMeanEverySum<16>();  // Powers of two: a shift.
  CheckMeanEverySum<64>();
  CheckMeanEverySum<15>();  // Others: a division.
  CheckMeanEverySum<25>();
  ExpectTiesAndSaturation();
  // Ties: 8/16 = 0.5 -> 0, 24/16 = 1.5 -> 2; 15/30 = 0.5 -> 0, 45/30 -> 2.
  EXPECT_EQ(detect::SeMean<16>(8, 0, 0).to_int(), 0);
  EXPECT_EQ(detect::SeMean<16>(24, 0, 0).to_int(), 2);
  EXPECT_EQ(detect::SeMean<16>(-24, 0, 0).to_int(), -2);
  EXPECT_EQ(detect::SeMean<15>(15, 1, 0).to_int(), 0);
  EXPECT_EQ(detect::SeMean<15>(45, 1, 0).to_int(), 2);
  EXPECT_EQ(detect::SeMean<15>(-45, 1, 0).to_int(), -2);
}

TEST(SqueezeExcite, Uint8MeanIsTheExactRationalRoundedOnce) {
  RefCoverage().Reset();
  CheckMeanEverySum<16, uact8_t, uact8_t>();
  CheckMeanEverySum<15, uact8_t, uact8_t>();
  CheckMeanEverySum<4, act8_t, uact8_t>();  // Negative means to 0.
  CheckMeanEverySum<9, act8_t, uact8_t>();
  CheckMeanEverySum<8, uact8_t, act8_t>();
  ExpectTiesAndSaturation();
  // 255 * 16 / 16 stays 255 (above int8's 127); 2 * 255.5 -> 255.
  EXPECT_EQ((detect::SeMean<16, uact8_t>(255 * 16, 0, 0).to_int()), 255);
  EXPECT_EQ((detect::SeMean<16, uact8_t>(255 * 16 + 8, 0, 0).to_int()), 255);
  EXPECT_EQ((detect::SeMean<16, uact8_t>(-8, 0, 0).to_int()), 0);
}

TEST(SqueezeExcite, GatesForEveryInput) {
  for (int z = -32768; z <= 32767; ++z) {
    for (int p = 0; p <= 12; ++p) {
      ASSERT_EQ(
          detect::SeGateOne<SeGate::kHardSigmoid>(pre16_t(z), frac_reg_t(p))
              .to_int64(),
          Relu6Plus3Ref(z, p) * 2730)
          << "z " << z << " P " << p;
    }
    ASSERT_EQ(detect::SeGateOne<SeGate::kSigmoid>(pre16_t(z), frac_reg_t(0))
                  .to_int64(),
              SigmoidRef(z))
        << "z " << z;
  }
}

// ---------------------------------------------------------------------------
// Whole blocks.

template <int kH, int kW, int kC, int kSq, SeGate kG, ScaleMode kMode,
          int kBits, int kP = 1>
struct Cfg {
  using weight_t = ap_int<kBits>;
  static constexpr int kHeight = kH;
  static constexpr int kWidth = kW;
  static constexpr int kChannels = kC;
  static constexpr int kSqueezeChannels = kSq;
  static constexpr SeGate kGate = kG;
  static constexpr ScaleMode kScaleMode = kMode;
  static constexpr int kPe = kP;
  static constexpr int kWeightBits = kBits;
};

struct SeCase {
  int pixels = 1, c = 1, sq = 1;
  SeGate gate = SeGate::kHardSigmoid;
  ScaleMode mode = ScaleMode::kPow2;
  std::vector<int64_t> x;    // [pixel][c].
  std::vector<int64_t> w_r;  // [c][sq].
  std::vector<int64_t> w_z;  // [sq][c].
  ChannelRegs regs_r, regs_z;
  std::vector<int64_t> f_x, f_m, p, f_y;  // Per channel.
  CodeRange x_codes = kInt8Codes, m_codes = kInt8Codes, r_codes = kInt8Codes,
            y_codes = kInt8Codes;
};

// A test config with uint8 tensors: In for x, Mean for m, Squeeze for r,
// Out for y.
template <class Base, class In, class Mean, class Squeeze, class Out>
struct WithCodes : Base {
  using in_t = In;
  using mean_t = Mean;
  using squeeze_t = Squeeze;
  using out_t = Out;
};

// The reference, step by step. With rng, it also chooses each stage's
// registers from the exact values it is about to round (as the quantizer
// would), so every stage sees in-range, saturating and tying values.
std::vector<int64_t> SeRef(SeCase& s, std::mt19937* rng) {
  std::vector<int64_t> sum(s.c, 0), m(s.c), r(s.sq), z(s.c), g(s.c);
  for (int i = 0; i < s.pixels; ++i) {
    for (int c = 0; c < s.c; ++c) sum[c] += s.x[i * s.c + c];
  }
  for (int c = 0; c < s.c; ++c) {
    m[c] = MeanRef(sum[c], s.pixels, static_cast<int>(s.f_x[c]),
                   static_cast<int>(s.f_m[c]), s.m_codes);
  }

  std::vector<int64_t> acc_r(s.sq, 0), acc_z(s.c, 0);
  for (int o = 0; o < s.sq; ++o) {
    for (int c = 0; c < s.c; ++c) acc_r[o] += m[c] * s.w_r[c * s.sq + o];
  }
  if (rng != nullptr) {
    s.regs_r.bias = RandomBias(*rng, s.sq, 2000);
    s.regs_r.mult = RandomMult(*rng, s.sq);
    std::vector<Int128> largest(s.sq);
    for (int o = 0; o < s.sq; ++o) {
      largest[o] =
          MulRef(Int128{acc_r[o]} + s.regs_r.bias[o], s.regs_r.mult[o], s.mode);
    }
    s.regs_r.shift = ShiftsFor(*rng, largest, std::vector<int>(s.sq, 7));
  }
  for (int o = 0; o < s.sq; ++o) {
    r[o] = EpilogueRef(ConvEpilogue::kRelu, s.mode, acc_r[o], s.regs_r.bias[o],
                       static_cast<int>(s.regs_r.shift[o]), s.regs_r.mult[o], 0,
                       0, s.r_codes);
  }

  for (int c = 0; c < s.c; ++c) {
    for (int o = 0; o < s.sq; ++o) acc_z[c] += r[o] * s.w_z[o * s.c + c];
  }
  const bool hard = s.gate == SeGate::kHardSigmoid;
  if (rng != nullptr) {
    s.regs_z.bias = RandomBias(*rng, s.c, 2000);
    s.regs_z.mult = RandomMult(*rng, s.c);
    std::vector<Int128> largest(s.c);
    for (int c = 0; c < s.c; ++c) {
      largest[c] =
          MulRef(Int128{acc_z[c]} + s.regs_z.bias[c], s.regs_z.mult[c], s.mode);
    }
    // z near +-8 in real units: both clamps of either gate are reached.
    std::vector<int> target(s.c);
    for (int c = 0; c < s.c; ++c) {
      target[c] = hard ? static_cast<int>(s.p[c]) + 3 : 8 + 3;
    }
    s.regs_z.shift = ShiftsFor(*rng, largest, target);
  }
  for (int c = 0; c < s.c; ++c) {
    z[c] = EpilogueRef(ConvEpilogue::kLogits, s.mode, acc_z[c],
                       s.regs_z.bias[c], static_cast<int>(s.regs_z.shift[c]),
                       s.regs_z.mult[c], 0, 0);
    g[c] = hard ? Relu6Plus3Ref(z[c], static_cast<int>(s.p[c])) * 2730
                : SigmoidRef(z[c]);
  }

  std::vector<int64_t> y(s.x.size());
  for (size_t i = 0; i < s.x.size(); ++i) {
    const size_t c = i % s.c;
    const int64_t gate_frac = hard ? s.p[c] + 14 : 15;
    y[i] =
        RequantTo(Int128{s.x[i]} * g[c],
                  static_cast<int>(s.f_x[c] + gate_frac - s.f_y[c]), s.y_codes);
  }
  return y;
}

// P and the F registers differ between channels unless per_tensor.
template <class Config>
SeCase MakeSeCase(std::mt19937& rng, bool per_tensor) {
  SeCase s;
  s.pixels = Config::kHeight * Config::kWidth;
  s.c = Config::kChannels;
  s.sq = Config::kSqueezeChannels;
  s.gate = Config::kGate;
  s.mode = Config::kScaleMode;
  s.x_codes = RangeOf<InCode<Config>>();
  s.m_codes = RangeOf<detect::SeMeanCode<Config>>();
  s.r_codes = RangeOf<detect::SeSqueezeCode<Config>>();
  s.y_codes = RangeOf<OutCode<Config>>();
  // Channels around a random level, so means spread over the 8-bit range
  // (and saturate when F(m) > F(x)).
  const int64_t least = s.x_codes.least, most = s.x_codes.most;
  s.x.resize(static_cast<size_t>(s.pixels) * s.c);
  std::vector<int64_t> level = RandomCodes(rng, s.c, least, most);
  for (int i = 0; i < s.pixels; ++i) {
    for (int c = 0; c < s.c; ++c) {
      s.x[i * s.c + c] =
          std::clamp<int64_t>(level[c] + Uniform(rng, -40, 40), least, most);
    }
  }
  const int64_t w_max = (int64_t{1} << (Config::kWeightBits - 1)) - 1;
  s.w_r = RandomCodes(rng, static_cast<size_t>(s.c) * s.sq, -w_max - 1, w_max);
  s.w_z = RandomCodes(rng, static_cast<size_t>(s.c) * s.sq, -w_max - 1, w_max);
  // F(m) and F(y) near F(x), so means and outputs use the int8 range.
  s.f_x = RandomFracs(rng, s.c, per_tensor);
  s.p = RandomFracs(rng, s.c, per_tensor, 0, 12);
  const int64_t dm = Uniform(rng, -2, 2), dy = Uniform(rng, -1, 1);
  for (int c = 0; c < s.c; ++c) {
    const int64_t m = per_tensor ? dm : Uniform(rng, -2, 2);
    const int64_t y = per_tensor ? dy : Uniform(rng, -1, 1);
    s.f_m.push_back(std::clamp<int64_t>(s.f_x[c] + m, kFracMin, kFracMax));
    s.f_y.push_back(std::clamp<int64_t>(s.f_x[c] + y, kFracMin, kFracMax));
  }
  SeRef(s, &rng);  // Chooses the conv registers.
  return s;
}

template <class Config>
std::vector<int64_t> RunSe(const SeCase& s) {
  constexpr int kC = Config::kChannels;
  constexpr int kSq = Config::kSqueezeChannels;
  constexpr int kPixels = Config::kHeight * Config::kWidth;
  struct Buffers {
    typename Config::weight_t w_r[kC][kSq];
    conv_bias_t bias_r[kSq];
    conv_shift_t shift_r[kSq];
    conv_mult_t mult_r[kSq];
    typename Config::weight_t w_z[kSq][kC];
    conv_bias_t bias_z[kC];
    conv_shift_t shift_z[kC];
    conv_mult_t mult_z[kC];
    frac_reg_t f_x[kC], f_m[kC], p[kC], f_y[kC];
    InCode<Config> frame[kPixels][kC];
  };
  auto b = std::make_unique<Buffers>();
  for (int c = 0; c < kC; ++c) {
    for (int o = 0; o < kSq; ++o) {
      b->w_r[c][o] = s.w_r[c * kSq + o];
      b->w_z[o][c] = s.w_z[o * kC + c];
    }
  }
  FillRegs<kSq>(s.regs_r, b->bias_r, b->shift_r, b->mult_r);
  FillRegs<kC>(s.regs_z, b->bias_z, b->shift_z, b->mult_z);
  FillFracs<kC>(s.f_x, b->f_x);
  FillFracs<kC>(s.f_m, b->f_m);
  FillFracs<kC>(s.p, b->p);
  FillFracs<kC>(s.f_y, b->f_y);
  PixelStream<InCode<Config>, kC> in;
  PixelStream<OutCode<Config>, kC> out;
  PushMap(s.x, in);
  detect::SqueezeExcite<Config>(in, b->w_r, b->bias_r, b->shift_r, b->mult_r,
                                b->w_z, b->bias_z, b->shift_z, b->mult_z,
                                b->f_x, b->f_m, b->p, b->f_y, b->frame, out);
  EXPECT_EQ(in.size(), 0u);
  return PopMap(out, kPixels);
}

template <class Config>
void CheckConfig(unsigned seed, int trials = 12) {
  std::mt19937 rng(seed);
  for (int t = 0; t < trials; ++t) {
    // Even trials: registers per tensor, as NUMERICS.md states them.
    SeCase s = MakeSeCase<Config>(rng, t % 2 == 0);
    const std::vector<int64_t> want = SeRef(s, nullptr);
    ExpectSameMap(RunSe<Config>(s), want, Config::kWidth, Config::kChannels,
                  "trial " + std::to_string(t));
    if (::testing::Test::HasFailure()) return;
  }
}

using M = ScaleMode;

TEST(SqueezeExcite, HardSigmoidBlocks) {
  RefCoverage().Reset();
  CheckConfig<Cfg<4, 4, 8, 4, SeGate::kHardSigmoid, M::kPow2, 8, 4>>(1);
  CheckConfig<Cfg<3, 5, 6, 3, SeGate::kHardSigmoid, M::kFixed, 4, 3>>(2);
  CheckConfig<Cfg<1, 1, 4, 2, SeGate::kHardSigmoid, M::kPow2, 4, 2>>(3);
  CheckConfig<Cfg<8, 8, 16, 4, SeGate::kHardSigmoid, M::kFixed, 8, 4>>(4);
  ExpectTiesAndSaturation();
}

TEST(SqueezeExcite, SigmoidBlocks) {
  RefCoverage().Reset();
  CheckConfig<Cfg<2, 8, 8, 2, SeGate::kSigmoid, M::kPow2, 8, 2>>(10);
  CheckConfig<Cfg<5, 5, 4, 4, SeGate::kSigmoid, M::kFixed, 8, 4>>(11);
  CheckConfig<Cfg<7, 3, 5, 5, SeGate::kSigmoid, M::kPow2, 4, 5>>(12);
  ExpectTiesAndSaturation();
}

TEST(SqueezeExcite, Uint8Tensors) {
  RefCoverage().Reset();
  // The backbone's relu blocks: x, m, r, y all uint8.
  CheckConfig<WithCodes<Cfg<4, 4, 8, 4, SeGate::kHardSigmoid, M::kFixed, 8, 4>,
                        uact8_t, uact8_t, uact8_t, uact8_t>>(20);
  CheckConfig<WithCodes<Cfg<3, 5, 6, 2, SeGate::kHardSigmoid, M::kPow2, 4, 2>,
                        uact8_t, uact8_t, uact8_t, uact8_t>>(21);
  // The hard-swish blocks: int8 x, m, y and a uint8 r.
  CheckConfig<WithCodes<Cfg<4, 2, 8, 4, SeGate::kHardSigmoid, M::kPow2, 8, 4>,
                        act8_t, act8_t, uact8_t, act8_t>>(22);
  // The head's sigmoid gate, uint8 throughout; and mixed ranges.
  CheckConfig<WithCodes<Cfg<4, 4, 8, 2, SeGate::kSigmoid, M::kFixed, 8, 2>,
                        uact8_t, uact8_t, uact8_t, uact8_t>>(23);
  CheckConfig<WithCodes<Cfg<3, 3, 4, 4, SeGate::kSigmoid, M::kPow2, 8, 4>,
                        act8_t, uact8_t, act8_t, uact8_t>>(24);
  ExpectTiesAndSaturation();
}

}  // namespace
}  // namespace fxserve::kernels::detect_test
