// Hand-checked cases: rounding ties in every mode, the most negative
// value, symmetric saturation, saturation bits, shifts past the width, bit
// and range access, printing, parsing, and the errors emulation reports.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>

#include <ap_fixed.h>
#include <ap_int.h>

namespace {

// x.5 ties and a non-tie, to an integer, in every quantization mode.
template <ap_q_mode Q>
double Quantized(double value) {
  return ap_fixed<8, 8, Q, AP_SAT>(ap_fixed<8, 6>(value)).to_double();
}

TEST(EdgeCases, RoundingTiesInEveryMode) {
  struct Row {
    double in, rnd, rnd_zero, rnd_min_inf, rnd_inf, rnd_conv, trn, trn_zero;
  };
  const Row rows[] = {
      {2.5, 3, 2, 2, 3, 2, 2, 2},  {-2.5, -2, -2, -3, -3, -2, -3, -2},
      {3.5, 4, 3, 3, 4, 4, 3, 3},  {-3.5, -3, -3, -4, -4, -4, -4, -3},
      {2.25, 2, 2, 2, 2, 2, 2, 2}, {-2.25, -2, -2, -2, -2, -2, -3, -2},
      {2.75, 3, 3, 3, 3, 3, 2, 2}, {-2.75, -3, -3, -3, -3, -3, -3, -2},
      {0.5, 1, 0, 0, 1, 0, 0, 0},  {-0.5, 0, 0, -1, -1, 0, -1, 0},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.in);
    EXPECT_EQ(Quantized<AP_RND>(r.in), r.rnd);
    EXPECT_EQ(Quantized<AP_RND_ZERO>(r.in), r.rnd_zero);
    EXPECT_EQ(Quantized<AP_RND_MIN_INF>(r.in), r.rnd_min_inf);
    EXPECT_EQ(Quantized<AP_RND_INF>(r.in), r.rnd_inf);
    EXPECT_EQ(Quantized<AP_RND_CONV>(r.in), r.rnd_conv);
    EXPECT_EQ(Quantized<AP_TRN>(r.in), r.trn);
    EXPECT_EQ(Quantized<AP_TRN_ZERO>(r.in), r.trn_zero);
  }
}

TEST(EdgeCases, MostNegativeValue) {
  const ap_int<8> min = -128;
  EXPECT_EQ((-min).to_int(), 128);  // Negation widens to 9 bits.
  static_assert(decltype(-min)::width == 9);
  EXPECT_EQ((min / ap_int<8>(-1)).to_int(), 128);
  EXPECT_EQ((min * min).to_int(), 16384);
  EXPECT_EQ((min - 1).to_int(), -129);
  ap_int<8> wrapped = min;
  --wrapped;
  EXPECT_EQ(wrapped.to_int(), 127);
  const ap_fixed<8, 4> fmin = -8.0;
  EXPECT_EQ((-fmin).to_double(), 8.0);
  EXPECT_EQ((fmin * fmin).to_double(), 64.0);
}

TEST(EdgeCases, SymmetricSaturation) {
  using Sym = ap_fixed<8, 4, AP_TRN, AP_SAT_SYM>;
  EXPECT_EQ(Sym(-8.0).to_double(), -7.9375);  // Never the most negative code.
  EXPECT_EQ(Sym(-100.0).to_double(), -7.9375);
  EXPECT_EQ(Sym(100.0).to_double(), 7.9375);
  EXPECT_EQ(Sym(ap_fixed<6, 4>(-8.0)).to_double(), -7.9375);
  EXPECT_EQ((ap_fixed<4, 4, AP_TRN, AP_SAT_SYM>(ap_int<4>(-8))).to_int(), -7);
  EXPECT_EQ((ap_fixed<8, 4, AP_TRN, AP_SAT>(-100.0)).to_double(), -8.0);
  EXPECT_EQ((ap_ufixed<4, 4, AP_TRN, AP_SAT_SYM>(-3)).to_int(), 0);
  EXPECT_EQ((ap_fixed<8, 4, AP_TRN, AP_SAT_ZERO>(9.0)).to_double(), 0.0);
}

TEST(EdgeCases, WrapWithSaturationBits) {
  // 200 wraps to 0b11001000; one saturation bit forces the sign to +.
  EXPECT_EQ((ap_fixed<8, 8, AP_TRN, AP_WRAP, 1>(200)).to_int(), 72);
  // -200 wraps to 0b00111000; two bits force 0b10....: sign -, next 0.
  EXPECT_EQ((ap_fixed<8, 8, AP_TRN, AP_WRAP, 2>(-200)).to_int(), -72);
  EXPECT_EQ((ap_ufixed<8, 8, AP_TRN, AP_WRAP, 3>(300)).to_int(), 0xEC);
  EXPECT_EQ((ap_fixed<8, 8, AP_TRN, AP_WRAP, 2>(100)).to_int(), 100);
}

TEST(EdgeCases, ShiftsPastTheWidth) {
  const ap_int<8> negative = -3;
  EXPECT_EQ((negative << 9).to_int(), 0);
  EXPECT_EQ((negative >> 9).to_int(), -1);
  EXPECT_EQ((negative >> 100).to_int(), -1);
  EXPECT_EQ((ap_uint<8>(200) >> 8).to_int(), 0);
  EXPECT_EQ((ap_uint<8>(200) << -2).to_int(), 50);
  EXPECT_EQ((ap_int<8>(5) >> ap_int<4>(-1)).to_int(), 10);
  EXPECT_EQ((ap_int<8>(5) << ap_uint<70>(1000)).to_int(), 0);
  EXPECT_EQ((ap_int<128>(1) << 127).to_string(16, false),
            "0x80000000000000000000000000000000");
  // Fixed-point shifts move raw bits and wrap.
  EXPECT_EQ((ap_fixed<8, 4>(1.5) << 1).to_double(), 3.0);
  EXPECT_EQ((ap_fixed<8, 4>(5.0) << 1).to_double(), -6.0);
  EXPECT_EQ((ap_fixed<8, 4>(-5.0) >> 2).to_double(), -1.25);
  EXPECT_EQ((ap_ufixed<8, 4>(5.0) >> 9).to_double(), 0.0);
}

// Assigning a range changes exactly bits [lo, hi] to the value's low bits,
// as if done bit by bit (the implementation works a limb at a time), for
// fields inside a limb, across limb boundaries and over whole values.
template <int W, bool kSigned>
void CheckRangeAssignments(uint64_t seed) {
  using T = std::conditional_t<kSigned, ap_int<W>, ap_uint<W>>;
  std::mt19937_64 rng(seed);
  auto random = [&] {
    T v = 0;
    for (int i = 0; i < W; ++i) v[i] = (rng() & 1) != 0;
    return v;
  };
  for (int trial = 0; trial < 300; ++trial) {
    const int a = rng() % W, b = rng() % W;
    const int hi = std::max(a, b), lo = std::min(a, b);
    T x = random();
    const T before = x;
    const ap_uint<W> value = random();
    x.range(hi, lo) = value;
    for (int i = 0; i < W; ++i) {
      const bool want = i >= lo && i <= hi ? value[i - lo] : before[i];
      ASSERT_EQ(x[i], want) << "W=" << W << " bit " << i << " of range (" << hi
                            << ", " << lo << ")";
    }
    EXPECT_EQ(x.range(hi, lo), value.range(hi - lo, 0));
  }
}

TEST(EdgeCases, RangeAssignmentChangesOnlyItsBits) {
  CheckRangeAssignments<7, true>(1);
  CheckRangeAssignments<64, false>(2);
  CheckRangeAssignments<65, true>(3);
  CheckRangeAssignments<130, false>(4);
  CheckRangeAssignments<512, false>(5);
  CheckRangeAssignments<512, true>(6);
}

TEST(EdgeCases, BitAndRangeAccess) {
  ap_uint<12> x = 0;
  x[3] = 1;
  x.range(11, 8) = 0xA;
  EXPECT_EQ(x.to_uint(), 0xA08u);
  EXPECT_TRUE(x[3]);
  EXPECT_FALSE(x.test(2));
  EXPECT_EQ(x.range(11, 8).to_uint(), 0xAu);
  EXPECT_EQ(x(3, 0).to_uint(), 8u);
  EXPECT_EQ(x.range(0, 3).to_uint(), 1u);  // Reversed: bit 3 first.
  x.range(3, 0) += 5;
  EXPECT_EQ(x.to_uint(), 0xA0Du);
  x.range(7, 4) = -1;
  EXPECT_EQ(x.to_uint(), 0xAFDu);
  EXPECT_TRUE(x.or_reduce());
  EXPECT_FALSE(x.and_reduce());
  EXPECT_TRUE(ap_uint<5>(31).and_reduce());
  EXPECT_EQ(ap_uint<8>(0b1011).xor_reduce(), true);
  ap_uint<8> r = 0b00010011;
  r.reverse();
  EXPECT_EQ(r.to_uint(), 0b11001000u);
  EXPECT_EQ(ap_uint<8>(1).countLeadingZeros(), 7);
  const ap_uint<12> joined = (ap_uint<4>(0xC), ap_uint<8>(0x35));
  EXPECT_EQ(joined.to_uint(), 0xC35u);
  ap_fixed<8, 4> f = 0;
  f.range(7, 0) = 0x18;
  EXPECT_EQ(f.to_double(), 1.5);
  f[7] = 1;
  EXPECT_EQ(f.to_double(), -6.5);
  ap_int<8> s = 0;
  s[7] = 1;  // Setting the sign bit of a signed type.
  EXPECT_EQ(s.to_int(), -128);
}

TEST(EdgeCases, ConversionsToIntegers) {
  EXPECT_EQ((ap_fixed<8, 4>(-7.5).to_int()), -7);  // Towards zero, like C.
  EXPECT_EQ((ap_fixed<8, 4>(7.5).to_int()), 7);
  EXPECT_EQ((ap_fixed<8, 0>(-0.5).to_int()), 0);
  EXPECT_EQ((ap_fixed<6, 9>(-64).to_int()), -64);
  const ap_int<16> from_fixed = ap_fixed<12, 8>(-100.75);
  EXPECT_EQ(from_fixed.to_int(), -100);
  EXPECT_EQ(ap_int<8>(300.7).to_int(), 44);  // Truncates, then wraps.
  EXPECT_EQ(ap_int<8>(-3.9).to_int(), -3);
  EXPECT_EQ(ap_uint<4>(-1).to_uint(), 15u);
  const int via_implicit = ap_int<5>(-7);
  EXPECT_EQ(via_implicit, -7);
}

TEST(EdgeCases, PrintingAndParsing) {
  EXPECT_EQ(ap_int<8>(-5).to_string(10), "-5");
  EXPECT_EQ(ap_int<8>(-5).to_string(16, false), "0xfb");
  EXPECT_EQ(ap_int<8>(-5).to_string(2, false), "0b11111011");
  EXPECT_EQ(ap_uint<8>(5).to_string(), "0b101");
  EXPECT_EQ((ap_fixed<8, 4>(-1.375).to_string(10)), "-1.375");
  EXPECT_EQ((ap_fixed<8, 4>(2.5).to_string(2)), "0b10.1");
  EXPECT_EQ((ap_fixed<6, 9>(-64).to_string(10)), "-64");
  std::ostringstream out;
  out << ap_int<70>(-1) << " " << ap_ufixed<10, 2>(0.1) << " " << std::hex
      << ap_uint<12>(0xabc);
  EXPECT_EQ(out.str(), "-1 0.09765625 0xabc");
  const ap_int<128> big("-170141183460469231731687303715884105728");
  EXPECT_EQ(big.to_string(16, false), "0x80000000000000000000000000000000");
  EXPECT_EQ(ap_uint<16>("0xBEEF").to_uint(), 0xBEEFu);
  EXPECT_EQ(ap_uint<8>("0b1010").to_uint(), 10u);
  EXPECT_EQ(ap_uint<8>("777", 8).to_uint(), 0777u & 0xFF);
  EXPECT_THROW(ap_int<8>("12x"), fxhls::EmulationError);
  EXPECT_THROW(ap_int<8>(""), fxhls::EmulationError);
}

TEST(EdgeCases, ErrorsAreReportedNotUndefined) {
  EXPECT_THROW(ap_int<8>(1) / ap_int<8>(0), fxhls::EmulationError);
  EXPECT_THROW(ap_int<8>(1) % 0, fxhls::EmulationError);
  EXPECT_THROW((ap_fixed<8, 4>(1) / ap_fixed<8, 4>(0)), fxhls::EmulationError);
  ap_int<8> x = 0;
  EXPECT_THROW(x[8] = 1, fxhls::EmulationError);
  EXPECT_THROW((void)x.range(8, 0), fxhls::EmulationError);
  EXPECT_THROW((void)x.to_string(7), fxhls::EmulationError);
}

// Poisoned builds give arbitrary values instead (poison_init_test.cc).
#if !(defined(FXSERVE_HLS_POISON_INIT) && FXSERVE_HLS_POISON_INIT)
TEST(EdgeCases, DefaultValueIsZero) {
  const ap_int<100> i;
  const ap_fixed<20, 5> f;
  EXPECT_TRUE(i.is_zero());
  EXPECT_EQ(f.to_double(), 0.0);
}
#endif

}  // namespace
