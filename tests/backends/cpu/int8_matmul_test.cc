#include "backends/cpu/int8_matmul.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace fxserve::backends::cpu {
namespace {

constexpr int32_t kSentinel = 0x5EA5EA5E;
constexpr Isa kAllIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni};

std::vector<int8_t> RandomCodes(size_t n, int bits, std::mt19937& rng) {
  const int lo = bits == 8 ? -128 : -8;
  const int hi = bits == 8 ? 127 : 7;
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<int8_t> v(n);
  for (int8_t& c : v) c = static_cast<int8_t>(dist(rng));
  return v;
}

// The plain definition, in int64.
std::vector<int64_t> Reference(const std::vector<int8_t>& w, int out, int in,
                               const std::vector<int8_t>& x, int tokens) {
  std::vector<int64_t> y(static_cast<size_t>(tokens) * out);
  for (int t = 0; t < tokens; ++t) {
    for (int o = 0; o < out; ++o) {
      int64_t sum = 0;
      for (int i = 0; i < in; ++i) {
        sum += int64_t{x[static_cast<size_t>(t) * in + i]} *
               w[static_cast<size_t>(o) * in + i];
      }
      y[static_cast<size_t>(t) * out + o] = sum;
    }
  }
  return y;
}

PackedWeights MustPack(const std::vector<int8_t>& w, int out, int in,
                       int bits) {
  absl::StatusOr<PackedWeights> packed = PackedWeights::Pack(w, out, in, bits);
  EXPECT_TRUE(packed.ok()) << packed.status();
  return *std::move(packed);
}

// MatMul into a sentinel-filled [tokens][stride] buffer.
std::vector<int32_t> RunMatMul(Isa isa, const PackedWeights& w,
                               const std::vector<int8_t>& x, int tokens,
                               int o_begin, int o_end, int stride) {
  std::vector<int32_t> acc(static_cast<size_t>(tokens) * stride, kSentinel);
  MatMul(isa, w, x.data(), tokens, o_begin, o_end, acc.data(), stride);
  return acc;
}

// Rows [o_begin, o_end) equal the reference; every other entry of the
// buffer is untouched. Returns the number of mismatches (reports the first).
int Check(const std::vector<int32_t>& acc, int stride,
          const std::vector<int64_t>& expected, int out, int tokens,
          int o_begin, int o_end, const std::string& what) {
  int bad = 0;
  for (int t = 0; t < tokens; ++t) {
    for (int o = 0; o < stride; ++o) {
      const int32_t got = acc[static_cast<size_t>(t) * stride + o];
      const int64_t want = o >= o_begin && o < o_end
                               ? expected[static_cast<size_t>(t) * out + o]
                               : int64_t{kSentinel};
      if (got != want && bad++ == 0) {
        ADD_FAILURE() << what << ": token " << t << ", row " << o << ": got "
                      << got << ", want " << want;
      }
    }
  }
  return bad;
}

class Int8MatMulTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!IsaSupported(GetParam())) {
      GTEST_SKIP() << IsaName(GetParam()) << " is not supported by this CPU";
    }
  }

  // Packs random weights, runs all rows, compares with the reference.
  void CheckRandom(int out, int in, int bits, int tokens, uint32_t seed) {
    std::mt19937 rng(seed);
    const std::vector<int8_t> w =
        RandomCodes(static_cast<size_t>(out) * in, bits, rng);
    const std::vector<int8_t> x =
        RandomCodes(static_cast<size_t>(tokens) * in, 8, rng);
    const PackedWeights packed = MustPack(w, out, in, bits);
    const std::vector<int32_t> acc =
        RunMatMul(GetParam(), packed, x, tokens, 0, out, out);
    EXPECT_EQ(
        Check(acc, out, Reference(w, out, in, x, tokens), out, tokens, 0, out,
              "out " + std::to_string(out) + " in " + std::to_string(in) +
                  " bits " + std::to_string(bits) + " tokens " +
                  std::to_string(tokens)),
        0);
  }
};

TEST_P(Int8MatMulTest, RandomShapes) {
  uint32_t seed = 1;
  for (int bits : {8, 4}) {
    for (int out : {1, 3, 15, 16, 17, 50}) {
      for (int in : {1, 3, 4, 7, 31, 32, 33, 63, 64, 65, 100, 768}) {
        for (int tokens : {1, 2, 5}) {
          CheckRandom(out, in, bits, tokens, seed++);
        }
      }
    }
  }
}

TEST_P(Int8MatMulTest, EveryTokenCountUpTo33) {
  for (int bits : {8, 4}) {
    for (int tokens = 1; tokens <= 33; ++tokens) {
      CheckRandom(37, 200, bits, tokens, 100 + tokens);
    }
  }
}

TEST_P(Int8MatMulTest, LargeInputs) {
  for (int bits : {8, 4}) {
    CheckRandom(21, 8192, bits, 3, 7);
    CheckRandom(5, 8191, bits, 9, 8);
    CheckRandom(3, 4097, bits, 1, 9);
  }
}

TEST_P(Int8MatMulTest, VocabularySizedOutput) {
  for (int bits : {8, 4}) {
    CheckRandom(50257, 101, bits, 1, 11);
    CheckRandom(50257, 64, bits, 3, 12);
  }
}

// The largest sums: every product at +-128 x 128 (or 127, -8, 7), so the
// unsigned-code trick's intermediate values are at their extremes too.
TEST_P(Int8MatMulTest, ExtremeCodes) {
  for (int bits : {8, 4}) {
    const int8_t w_min = bits == 8 ? -128 : -8;
    const int8_t w_max = bits == 8 ? 127 : 7;
    for (int in : {8192, 8191, 4096, 33}) {
      // Rows: all min, all max, alternating min/max, max/min, then random
      // extremes.
      const int out = 19;
      std::mt19937 rng(in + bits);
      std::bernoulli_distribution coin(0.5);
      std::vector<int8_t> w(static_cast<size_t>(out) * in);
      for (int o = 0; o < out; ++o) {
        for (int i = 0; i < in; ++i) {
          int8_t c;
          switch (o) {
            case 0:
              c = w_min;
              break;
            case 1:
              c = w_max;
              break;
            case 2:
              c = i % 2 ? w_max : w_min;
              break;
            case 3:
              c = i % 2 ? w_min : w_max;
              break;
            default:
              c = coin(rng) ? w_max : w_min;
          }
          w[static_cast<size_t>(o) * in + i] = c;
        }
      }
      // Tokens: all -128, all 127, alternating, random extremes.
      const int tokens = 5;
      std::vector<int8_t> x(static_cast<size_t>(tokens) * in);
      for (int t = 0; t < tokens; ++t) {
        for (int i = 0; i < in; ++i) {
          int8_t c;
          switch (t) {
            case 0:
              c = -128;
              break;
            case 1:
              c = 127;
              break;
            case 2:
              c = i % 2 ? 127 : -128;
              break;
            default:
              c = coin(rng) ? 127 : -128;
          }
          x[static_cast<size_t>(t) * in + i] = c;
        }
      }
      const PackedWeights packed = MustPack(w, out, in, bits);
      const std::vector<int64_t> expected = Reference(w, out, in, x, tokens);
      if (in == 8192) {
        EXPECT_EQ(expected[0], int64_t{8192} * 128 * -w_min);
      }
      EXPECT_EQ(Check(RunMatMul(GetParam(), packed, x, tokens, 0, out, out),
                      out, expected, out, tokens, 0, out,
                      "extremes in " + std::to_string(in) + " bits " +
                          std::to_string(bits)),
                0);
    }
  }
}

TEST_P(Int8MatMulTest, RowSubrangesWriteOnlyTheirRows) {
  const int out = 77;
  const int in = 96;
  const int tokens = 5;
  for (int bits : {8, 4}) {
    std::mt19937 rng(bits);
    const std::vector<int8_t> w =
        RandomCodes(static_cast<size_t>(out) * in, bits, rng);
    const std::vector<int8_t> x =
        RandomCodes(static_cast<size_t>(tokens) * in, 8, rng);
    const PackedWeights packed = MustPack(w, out, in, bits);
    const std::vector<int64_t> expected = Reference(w, out, in, x, tokens);
    const std::pair<int, int> ranges[] = {{0, 0},   {0, 1},  {5, 6},   {15, 17},
                                          {16, 32}, {3, 77}, {70, 77}, {76, 77},
                                          {17, 31}, {0, 77}};
    for (const auto& [b, e] : ranges) {
      for (int stride : {out, 83, 130}) {
        EXPECT_EQ(
            Check(RunMatMul(GetParam(), packed, x, tokens, b, e, stride),
                  stride, expected, out, tokens, b, e,
                  "rows [" + std::to_string(b) + ", " + std::to_string(e) +
                      ") stride " + std::to_string(stride)),
            0);
      }
    }
  }
}

// Several threads, each on its own row range (not panel aligned), into one
// buffer, and again with fresh splits.
TEST_P(Int8MatMulTest, ConcurrentCallsOnDisjointRanges) {
  const int out = 203;
  const int in = 300;
  const int tokens = 3;
  for (int bits : {8, 4}) {
    std::mt19937 rng(40 + bits);
    const std::vector<int8_t> w =
        RandomCodes(static_cast<size_t>(out) * in, bits, rng);
    const std::vector<int8_t> x =
        RandomCodes(static_cast<size_t>(tokens) * in, 8, rng);
    const PackedWeights packed = MustPack(w, out, in, bits);
    const std::vector<int64_t> expected = Reference(w, out, in, x, tokens);
    for (int round = 0; round < 10; ++round) {
      std::vector<int> cuts = {0, out};
      std::uniform_int_distribution<int> cut(0, out);
      for (int k = 0; k < 6; ++k) cuts.push_back(cut(rng));
      std::sort(cuts.begin(), cuts.end());
      std::vector<int32_t> acc(static_cast<size_t>(tokens) * out, kSentinel);
      std::vector<std::thread> threads;
      for (size_t k = 0; k + 1 < cuts.size(); ++k) {
        threads.emplace_back([&, b = cuts[k], e = cuts[k + 1]] {
          MatMul(GetParam(), packed, x.data(), tokens, b, e, acc.data(), out);
        });
      }
      for (std::thread& thread : threads) thread.join();
      EXPECT_EQ(Check(acc, out, expected, out, tokens, 0, out,
                      "round " + std::to_string(round)),
                0);
    }
  }
}

// A token's result does not depend on which tokens share its batch.
TEST_P(Int8MatMulTest, BatchEqualsSingleTokens) {
  const int out = 40;
  const int in = 130;
  const int tokens = 17;
  for (int bits : {8, 4}) {
    std::mt19937 rng(60 + bits);
    const std::vector<int8_t> w =
        RandomCodes(static_cast<size_t>(out) * in, bits, rng);
    const std::vector<int8_t> x =
        RandomCodes(static_cast<size_t>(tokens) * in, 8, rng);
    const PackedWeights packed = MustPack(w, out, in, bits);
    const std::vector<int32_t> batch =
        RunMatMul(GetParam(), packed, x, tokens, 0, out, out);
    for (int t = 0; t < tokens; ++t) {
      const std::vector<int8_t> one(x.begin() + t * in,
                                    x.begin() + (t + 1) * in);
      const std::vector<int32_t> single =
          RunMatMul(GetParam(), packed, one, 1, 0, out, out);
      for (int o = 0; o < out; ++o) {
        ASSERT_EQ(single[o], batch[static_cast<size_t>(t) * out + o])
            << "token " << t << " row " << o;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Int8MatMulTest, ::testing::ValuesIn(kAllIsas),
                         [](const ::testing::TestParamInfo<Isa>& param) {
                           return std::string(IsaName(param.param));
                         });

TEST(PackedWeightsTest, RejectsBadArguments) {
  const std::vector<int8_t> w(12, 1);
  EXPECT_EQ(PackedWeights::Pack(w, 3, 4, 3).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PackedWeights::Pack(w, 3, 4, 16).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PackedWeights::Pack(w, 0, 4, 8).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PackedWeights::Pack(w, 3, 0, 8).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PackedWeights::Pack(w, -3, -4, 8).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PackedWeights::Pack(w, 4, 4, 8).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PackedWeights::Pack(w, 2, 4, 8).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<int8_t> wide(PackedWeights::kMaxIn + 1, 0);
  EXPECT_EQ(PackedWeights::Pack(wide, 1, PackedWeights::kMaxIn + 1, 8)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(PackedWeights::Pack(w, 3, 4, 8).ok());
  EXPECT_TRUE(PackedWeights::Pack(w, 3, 4, 4).ok());
  for (int8_t bad : {int8_t{8}, int8_t{-9}, int8_t{127}, int8_t{-128}}) {
    std::vector<int8_t> w4(12, 7);
    w4[10] = bad;
    const absl::Status status = PackedWeights::Pack(w4, 3, 4, 4).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(status.message(), "row 2, input 2"))
        << status.message();
  }
}

TEST(PackedWeightsTest, MetadataAndRoundTrip) {
  std::mt19937 rng(5);
  for (int bits : {8, 4}) {
    for (auto [out, in] : {std::pair{1, 1}, std::pair{3, 33},
                           std::pair{50, 768}, std::pair{17, 100}}) {
      const std::vector<int8_t> w =
          RandomCodes(static_cast<size_t>(out) * in, bits, rng);
      const PackedWeights packed = MustPack(w, out, in, bits);
      EXPECT_EQ(packed.out(), out);
      EXPECT_EQ(packed.in(), in);
      EXPECT_EQ(packed.bits(), bits);
      const size_t padded_out = (out + 15) / 16 * 16;
      const size_t padded_in = (in + 31) / 32 * 32;
      EXPECT_EQ(packed.bytes(), padded_out * padded_in * bits / 8);
      EXPECT_EQ(packed.Unpack(), w);
    }
  }
  // int4 really is half the bytes.
  const std::vector<int8_t> w(3072 * 768, 1);
  EXPECT_EQ(MustPack(w, 3072, 768, 4).bytes(), size_t{3072} * 768 / 2);
  EXPECT_EQ(MustPack(w, 3072, 768, 8).bytes(), size_t{3072} * 768);
}

TEST(PackedWeightsTest, MoveKeepsTheData) {
  std::mt19937 rng(6);
  const std::vector<int8_t> w = RandomCodes(20 * 40, 4, rng);
  PackedWeights a = MustPack(w, 20, 40, 4);
  PackedWeights b = std::move(a);
  EXPECT_EQ(b.Unpack(), w);
  PackedWeights c = MustPack(RandomCodes(8, 8, rng), 2, 4, 8);
  c = std::move(b);
  EXPECT_EQ(c.Unpack(), w);
}

using Int8MatMulDeathTest = ::testing::Test;

TEST(Int8MatMulDeathTest, BadRangeAborts) {
  const std::vector<int8_t> w(4 * 8, 1);
  const PackedWeights packed = MustPack(w, 4, 8, 8);
  const std::vector<int8_t> x(8, 1);
  std::vector<int32_t> acc(8);
  EXPECT_DEATH(MatMul(Isa::kScalar, packed, x.data(), 1, 0, 5, acc.data(), 8),
               "row range");
  EXPECT_DEATH(MatMul(Isa::kScalar, packed, x.data(), 0, 0, 4, acc.data(), 8),
               "tokens");
  EXPECT_DEATH(MatMul(Isa::kScalar, packed, x.data(), 2, 0, 4, acc.data(), 3),
               "acc_stride");
}

TEST(IsaTest, Names) {
  EXPECT_STREQ(IsaName(Isa::kScalar), "scalar");
  EXPECT_STREQ(IsaName(Isa::kAvx2), "avx2");
  EXPECT_STREQ(IsaName(Isa::kAvx512Vnni), "avx512vnni");
  EXPECT_TRUE(IsaSupported(Isa::kScalar));
  // AVX-512 VNNI machines have AVX2.
  if (IsaSupported(Isa::kAvx512Vnni)) {
    EXPECT_TRUE(IsaSupported(Isa::kAvx2));
  }
}

// Sets FXSERVE_CPU_ISA for a scope and restores the previous value.
class ScopedIsaEnv {
 public:
  explicit ScopedIsaEnv(const char* value) {
    if (const char* old = std::getenv("FXSERVE_CPU_ISA")) saved_ = old;
    if (value == nullptr) {
      unsetenv("FXSERVE_CPU_ISA");
    } else {
      setenv("FXSERVE_CPU_ISA", value, 1);
    }
  }
  ~ScopedIsaEnv() {
    if (saved_) {
      setenv("FXSERVE_CPU_ISA", saved_->c_str(), 1);
    } else {
      unsetenv("FXSERVE_CPU_ISA");
    }
  }
  ScopedIsaEnv(const ScopedIsaEnv&) = delete;
  ScopedIsaEnv& operator=(const ScopedIsaEnv&) = delete;

 private:
  std::optional<std::string> saved_;
};

Isa Best() {
  Isa best = Isa::kScalar;
  for (Isa isa : kAllIsas) {
    if (IsaSupported(isa)) best = isa;
  }
  return best;
}

TEST(SelectIsaTest, UnsetOrEmptyPicksTheBest) {
  {
    ScopedIsaEnv env(nullptr);
    absl::StatusOr<Isa> isa = SelectIsa();
    ASSERT_TRUE(isa.ok()) << isa.status();
    EXPECT_EQ(*isa, Best());
  }
  {
    ScopedIsaEnv env("");
    absl::StatusOr<Isa> isa = SelectIsa();
    ASSERT_TRUE(isa.ok()) << isa.status();
    EXPECT_EQ(*isa, Best());
  }
}

TEST(SelectIsaTest, EnvironmentChoosesASupportedIsa) {
  for (Isa want : kAllIsas) {
    ScopedIsaEnv env(IsaName(want));
    absl::StatusOr<Isa> isa = SelectIsa();
    if (IsaSupported(want)) {
      ASSERT_TRUE(isa.ok()) << isa.status();
      EXPECT_EQ(*isa, want);
    } else {
      EXPECT_EQ(isa.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_TRUE(absl::StrContains(isa.status().message(), "does not support"))
          << isa.status().message();
      EXPECT_TRUE(
          absl::StrContains(isa.status().message(), "this CPU supports"))
          << isa.status().message();
    }
  }
}

TEST(SelectIsaTest, UnknownNameIsAnError) {
  for (const char* bogus : {"bogus", "AVX2", "avx512", "scalar "}) {
    ScopedIsaEnv env(bogus);
    absl::StatusOr<Isa> isa = SelectIsa();
    ASSERT_FALSE(isa.ok()) << bogus;
    EXPECT_EQ(isa.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(isa.status().message(), bogus))
        << isa.status().message();
    EXPECT_TRUE(
        absl::StrContains(isa.status().message(), "scalar, avx2, avx512vnni"))
        << isa.status().message();
    EXPECT_TRUE(absl::StrContains(isa.status().message(),
                                  std::string("this CPU supports: scalar")))
        << isa.status().message();
  }
}

}  // namespace
}  // namespace fxserve::backends::cpu
