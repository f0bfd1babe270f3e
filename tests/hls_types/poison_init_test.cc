// Default construction of ap_int / ap_fixed: zero in the normal build; with
// FXSERVE_HLS_POISON_INIT, arbitrary but valid values from a seeded
// per-thread stream, so kernels that read uninitialized values fail in CI as
// they would on a card.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <thread>
#include <vector>

#include <ap_fixed.h>
#include <ap_int.h>

namespace {

// Comparisons use EXPECT_TRUE(a == b): printing ap values at -O3 trips
// GCC 12's false -Wrestrict on string concatenation.
constexpr int kCount = 64;

// Raw limbs of one default-constructed value of each type under test.
struct Draw {
  int64_t i8;
  uint64_t u17;
  uint64_t i100_low;
  uint64_t i100_high;
  int64_t f18_raw;
  bool operator==(const Draw&) const = default;
};

Draw DrawOne() {
  const ap_int<8> i8;
  const ap_uint<17> u17;
  const ap_int<100> i100;
  const ap_fixed<18, 6> f18;
  return {static_cast<int64_t>(i8.raw_bits().limb[0]), u17.raw_bits().limb[0],
          i100.raw_bits().limb[0], i100.raw_bits().limb[1],
          static_cast<int64_t>(f18.raw().raw_bits().limb[0])};
}

std::vector<Draw> DrawMany() {
  std::vector<Draw> draws;
  for (int i = 0; i < kCount; ++i) draws.push_back(DrawOne());
  return draws;
}

#if defined(FXSERVE_HLS_POISON_INIT) && FXSERVE_HLS_POISON_INIT

// Stored limbs hold exactly what the type's own normalization leaves, so
// every operation reads them as a value of the type.
TEST(PoisonInit, ValuesAreValidForTheirType) {
  fxhls::SetPoisonSeed(7);
  for (const Draw& d : DrawMany()) {
    EXPECT_GE(d.i8, -128);
    EXPECT_LE(d.i8, 127);
    EXPECT_LT(d.u17, uint64_t{1} << 17);
    // ap_int<100>: limb 1 holds bits 64..99, sign-extended from bit 99.
    const int64_t high = static_cast<int64_t>(d.i100_high);
    EXPECT_GE(high, -(int64_t{1} << 35));
    EXPECT_LT(high, int64_t{1} << 35);
    EXPECT_GE(d.f18_raw, -(int64_t{1} << 17));
    EXPECT_LT(d.f18_raw, int64_t{1} << 17);
  }
  fxhls::SetPoisonSeed(7);
  for (int i = 0; i < kCount; ++i) {
    const ap_int<8> i8;
    EXPECT_TRUE(i8 == ap_int<8>(i8.to_int()));
    const ap_fixed<18, 6> f18;
    EXPECT_GE(f18.to_double(), -32.0);
    EXPECT_LT(f18.to_double(), 32.0);
    EXPECT_TRUE(f18 == (ap_fixed<18, 6>(f18.to_double())));
  }
}

TEST(PoisonInit, ValuesAreNotZeroAndVary) {
  fxhls::SetPoisonSeed(7);
  std::set<int64_t> i8, f18;
  std::set<uint64_t> u17, i100_low, i100_high;
  for (const Draw& d : DrawMany()) {
    i8.insert(d.i8);
    u17.insert(d.u17);
    i100_low.insert(d.i100_low);
    i100_high.insert(d.i100_high);
    f18.insert(d.f18_raw);
  }
  // 64 draws of 8 or more random bits: far more than 16 distinct values.
  EXPECT_GT(i8.size(), 16u);
  EXPECT_GT(u17.size(), 16u);
  EXPECT_GT(i100_low.size(), 16u);
  EXPECT_GT(i100_high.size(), 16u);  // The upper limb is filled too.
  EXPECT_GT(f18.size(), 16u);
  // Both signs occur (the sign bit is random, then extended).
  EXPECT_LT(*i8.begin(), 0);
  EXPECT_GT(*i8.rbegin(), 0);
  // Value-initialization is the same constructor (also in AMD's headers).
  int zeros = 0;
  for (int i = 0; i < kCount; ++i) zeros += ap_int<32>{}.is_zero();
  EXPECT_LT(zeros, kCount);
}

TEST(PoisonInit, SameSeedSameSequence) {
  fxhls::SetPoisonSeed(42);
  const std::vector<Draw> first = DrawMany();
  fxhls::SetPoisonSeed(42);
  EXPECT_EQ(DrawMany(), first);
  fxhls::SetPoisonSeed(43);
  EXPECT_NE(DrawMany(), first);
}

// A new thread starts from the build's seed whatever other threads did.
TEST(PoisonInit, EachThreadStartsFromTheBuildSeed) {
  fxhls::SetPoisonSeed(FXSERVE_HLS_POISON_SEED);
  const std::vector<Draw> expected = DrawMany();
  std::vector<Draw> on_thread;
  std::thread t([&on_thread] { on_thread = DrawMany(); });
  t.join();
  EXPECT_EQ(on_thread, expected);
}

// Copies copy, and values built from something (and the type layer's own
// temporaries) are exact and take nothing from the stream.
TEST(PoisonInit, OnlyDefaultConstructionDraws) {
  fxhls::SetPoisonSeed(9);
  const ap_int<100> first;
  fxhls::SetPoisonSeed(9);
  const ap_int<100> copy = first;
  EXPECT_TRUE(copy == first);
  EXPECT_TRUE(ap_int<100>(0).is_zero());
  EXPECT_EQ((ap_fixed<18, 6>(0.0).to_double()), 0.0);
  EXPECT_EQ((ap_fixed<18, 6>(ap_int<8>(0)).to_double()), 0.0);
  EXPECT_TRUE((ap_int<8>(5) << 9).is_zero());
  EXPECT_EQ((ap_int<8>(-3) * ap_int<8>(4) + 12).to_int(), 0);
  EXPECT_EQ(((ap_fixed<18, 6>(1.5) - ap_fixed<8, 4>(1.5)).to_double()), 0.0);
  EXPECT_EQ(ap_uint<17>(6).range(15, 1).to_uint(), 3u);
  const ap_int<100> next;
  EXPECT_TRUE(next == first);  // Nothing above advanced the stream.
}

#else  // Normal build.

TEST(ZeroInit, DefaultConstructedValuesAreZero) {
  for (const Draw& d : DrawMany()) EXPECT_EQ(d, Draw{});
  for (int i = 0; i < kCount; ++i) {
    EXPECT_TRUE(ap_int<8>().is_zero());
    EXPECT_TRUE(ap_uint<17>{}.is_zero());
    EXPECT_TRUE(ap_int<100>().is_zero());
    EXPECT_EQ((ap_fixed<18, 6>().to_double()), 0.0);
  }
}

#endif

}  // namespace
