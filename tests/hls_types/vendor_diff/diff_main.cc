// Prints the results of many ap_int / ap_fixed operations as raw bits, one
// per line. tools/hls-vendor-diff.sh compiles it once against fxserve's
// headers and once against AMD's, and diffs the two outputs: any line that
// differs is a semantic mismatch. Needs nothing but the headers.
#include <ap_fixed.h>
#include <ap_int.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace {

// Deterministic 64-bit generator (splitmix64) so both builds see the same
// operands.
uint64_t Next(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

template <class T>
std::string Hex(const T& x) {
  std::string out;
  char buf[32];
  for (int lo = 0; lo < T::width; lo += 64) {
    const int hi = lo + 63 < T::width ? lo + 63 : T::width - 1;
    std::snprintf(buf, sizeof buf, "%llx",
                  static_cast<unsigned long long>(x.range(hi, lo).to_uint64()));
    out = std::string(buf) + (out.empty() ? "" : "_") + out;
  }
  return std::to_string(T::width) + ":" + out;
}

template <class T>
T FromBits(uint64_t low, uint64_t high = 0) {
  T x;
  x.range(T::width > 64 ? 63 : T::width - 1, 0) = ap_uint<64>(low);
  if (T::width > 64) x.range(T::width - 1, 64) = ap_uint<64>(high);
  return x;
}

// --- Conversions between fixed types, every source code, every mode. ------
template <class Target, class Source>
void ConvertAll(const char* tag) {
  for (uint64_t raw = 0; raw < (uint64_t{1} << Source::width); ++raw) {
    const Source s = FromBits<Source>(raw);
    const Target t = s;
    std::printf("%s %llx %s\n", tag, static_cast<unsigned long long>(raw),
                Hex(t).c_str());
  }
}

template <int W, int I, bool S, ap_o_mode O, int N, class Source>
void ConvertQModes(const char* tag) {
  if constexpr (S) {
    ConvertAll<ap_fixed<W, I, AP_RND, O, N>, Source>(tag);
    ConvertAll<ap_fixed<W, I, AP_RND_ZERO, O, N>, Source>(tag);
    ConvertAll<ap_fixed<W, I, AP_RND_MIN_INF, O, N>, Source>(tag);
    ConvertAll<ap_fixed<W, I, AP_RND_INF, O, N>, Source>(tag);
    ConvertAll<ap_fixed<W, I, AP_RND_CONV, O, N>, Source>(tag);
    ConvertAll<ap_fixed<W, I, AP_TRN, O, N>, Source>(tag);
    ConvertAll<ap_fixed<W, I, AP_TRN_ZERO, O, N>, Source>(tag);
  } else {
    ConvertAll<ap_ufixed<W, I, AP_RND, O, N>, Source>(tag);
    ConvertAll<ap_ufixed<W, I, AP_RND_ZERO, O, N>, Source>(tag);
    ConvertAll<ap_ufixed<W, I, AP_RND_MIN_INF, O, N>, Source>(tag);
    ConvertAll<ap_ufixed<W, I, AP_RND_INF, O, N>, Source>(tag);
    ConvertAll<ap_ufixed<W, I, AP_RND_CONV, O, N>, Source>(tag);
    ConvertAll<ap_ufixed<W, I, AP_TRN, O, N>, Source>(tag);
    ConvertAll<ap_ufixed<W, I, AP_TRN_ZERO, O, N>, Source>(tag);
  }
}

template <int W, int I, bool S, class Source>
void ConvertAllModes(const char* tag) {
  ConvertQModes<W, I, S, AP_SAT, 0, Source>(tag);
  ConvertQModes<W, I, S, AP_SAT_ZERO, 0, Source>(tag);
  ConvertQModes<W, I, S, AP_SAT_SYM, 0, Source>(tag);
  ConvertQModes<W, I, S, AP_WRAP, 0, Source>(tag);
  ConvertQModes<W, I, S, AP_WRAP, 1, Source>(tag);
  ConvertQModes<W, I, S, AP_WRAP, 2, Source>(tag);
}

template <class Source>
void ConvertIntoShapes(const char* tag) {
  ConvertAllModes<4, 2, true, Source>(tag);
  ConvertAllModes<4, 2, false, Source>(tag);
  ConvertAllModes<5, 5, true, Source>(tag);
  ConvertAllModes<3, 0, true, Source>(tag);
  ConvertAllModes<3, -1, false, Source>(tag);
  ConvertAllModes<4, 7, true, Source>(tag);
  ConvertAllModes<2, 1, true, Source>(tag);
  ConvertAllModes<8, 4, true, Source>(tag);
  ConvertAllModes<7, 3, false, Source>(tag);
  ConvertAllModes<5, 3, true, Source>(tag);
  ConvertAllModes<6, 1, true, Source>(tag);
  ConvertAllModes<4, -2, true, Source>(tag);
  ConvertAllModes<6, 6, true, Source>(tag);
}

// --- Binary operators on every pair of codes. ----------------------------
template <class A, class B>
void BinaryFixedAll(const char* tag) {
  for (uint64_t ra = 0; ra < (uint64_t{1} << A::width); ++ra) {
    for (uint64_t rb = 0; rb < (uint64_t{1} << B::width); ++rb) {
      const A a = FromBits<A>(ra);
      const B b = FromBits<B>(rb);
      std::printf("%s %llx %llx + %s - %s * %s & %s | %s ^ %s", tag,
                  static_cast<unsigned long long>(ra),
                  static_cast<unsigned long long>(rb), Hex(a + b).c_str(),
                  Hex(a - b).c_str(), Hex(a * b).c_str(), Hex(a & b).c_str(),
                  Hex(a | b).c_str(), Hex(a ^ b).c_str());
      if (rb != 0) std::printf(" / %s", Hex(a / b).c_str());
      std::printf(" cmp %d%d%d%d%d%d\n", a == b, a != b, a<b, a <= b, a> b,
                  a >= b);
    }
  }
}

template <class A, class B>
void BinaryIntAll(const char* tag) {
  for (uint64_t ra = 0; ra < (uint64_t{1} << A::width); ++ra) {
    for (uint64_t rb = 0; rb < (uint64_t{1} << B::width); ++rb) {
      const A a = FromBits<A>(ra);
      const B b = FromBits<B>(rb);
      std::printf("%s %llx %llx + %s - %s * %s & %s | %s ^ %s", tag,
                  static_cast<unsigned long long>(ra),
                  static_cast<unsigned long long>(rb), Hex(a + b).c_str(),
                  Hex(a - b).c_str(), Hex(a * b).c_str(), Hex(a & b).c_str(),
                  Hex(a | b).c_str(), Hex(a ^ b).c_str());
      if (rb != 0) {
        std::printf(" / %s %% %s", Hex(a / b).c_str(), Hex(a % b).c_str());
      }
      const int sh = static_cast<int>(rb % 12);
      std::printf(" << %s >> %s", Hex(a << sh).c_str(), Hex(a >> sh).c_str());
      std::printf(" cmp %d%d%d%d%d%d neg %s\n", a == b, a != b,
                  a<b, a <= b, a> b, a >= b, Hex(-a).c_str());
    }
  }
}

// Known AMD header bugs are left out (see kernels/hls_types/README.md):
// to_int() when I <= 0, to_string(10) when I > W.
template <class T>
void UnaryFixedAll(const char* tag) {
  for (uint64_t raw = 0; raw < (uint64_t{1} << T::width); ++raw) {
    const T x = FromBits<T>(raw);
    std::printf("%s %llx neg %s not %s dbl %.17g shl %s shr %s", tag,
                static_cast<unsigned long long>(raw), Hex(-x).c_str(),
                Hex(~x).c_str(), x.to_double(), Hex(x << 2).c_str(),
                Hex(x >> 3).c_str());
    if (T::iwidth > 0) std::printf(" int %d", x.to_int());
    if (T::iwidth <= T::width) std::printf(" str %s", x.to_string(10).c_str());
    std::printf("\n");
  }
}

// --- Doubles into fixed types. --------------------------------------------
template <class T>
void FromDoubles(const char* tag) {
  const double specials[] = {0.0,    -0.0,    0.5,     -0.5,    0.25,   -0.25,
                             0.75,   -0.75,   1.5,     -1.5,    2.5,    -2.5,
                             3.0,    -3.0,    7.75,    -7.75,   8.0,    -8.0,
                             100.0,  -100.0,  1e-300,  -1e-300, 1e300,  -1e300,
                             0.1,    -0.1,    0.3125,  -0.3125, 5.0625, -5.0625,
                             0.0625, -0.0625, 1.0 / 3, -2.0 / 3};
  for (double d : specials) {
    const T x = d;
    std::printf("%s %.17g %s\n", tag, d, Hex(x).c_str());
  }
  uint64_t state = 7;
  for (int i = 0; i < 2000; ++i) {
    const double d =
        (static_cast<double>(Next(state) >> 11) / 9007199254740992.0 - 0.5) *
        40.0;
    const T x = d;
    std::printf("%s %.17g %s\n", tag, d, Hex(x).c_str());
  }
}

template <int W, int I>
void FromDoublesAllModes(const char* tag) {
  FromDoubles<ap_fixed<W, I, AP_RND, AP_SAT>>(tag);
  FromDoubles<ap_fixed<W, I, AP_RND_ZERO, AP_SAT_SYM>>(tag);
  FromDoubles<ap_fixed<W, I, AP_RND_MIN_INF, AP_SAT_ZERO>>(tag);
  FromDoubles<ap_fixed<W, I, AP_RND_INF, AP_WRAP>>(tag);
  FromDoubles<ap_fixed<W, I, AP_RND_CONV, AP_SAT>>(tag);
  FromDoubles<ap_fixed<W, I, AP_TRN, AP_WRAP, 1>>(tag);
  FromDoubles<ap_fixed<W, I, AP_TRN_ZERO, AP_SAT_SYM>>(tag);
  FromDoubles<ap_ufixed<W, I, AP_RND_CONV, AP_SAT>>(tag);
  FromDoubles<ap_ufixed<W, I, AP_TRN, AP_WRAP>>(tag);
}

// --- Wide random operands. -----------------------------------------------
// to_double() of ap_int wider than 64 bits is left out: AMD's headers
// truncate it to 64 bits (see kernels/hls_types/README.md).
template <class A, class B>
void WideRandom(const char* tag, int count, bool print_double = true) {
  uint64_t state = 12345;
  for (int i = 0; i < count; ++i) {
    const A a = FromBits<A>(Next(state), Next(state));
    const B b = FromBits<B>(Next(state), Next(state));
    std::printf("%s + %s - %s * %s & %s cmp %d%d%d%d%d%d", tag,
                Hex(a + b).c_str(), Hex(a - b).c_str(), Hex(a * b).c_str(),
                Hex(a & b).c_str(), a == b, a != b, a<b, a <= b, a> b, a >= b);
    if (b != 0) std::printf(" / %s", Hex(a / b).c_str());
    if (print_double) std::printf(" dbl %.17g", a.to_double());
    std::printf("\n");
  }
}

template <class T, class Wide>
void WideConvert(const char* tag, int count) {
  uint64_t state = 99;
  for (int i = 0; i < count; ++i) {
    const Wide w = FromBits<Wide>(Next(state), Next(state));
    const T t = w;
    std::printf("%s %s\n", tag, Hex(t).c_str());
  }
}

}  // namespace

int main() {
  ConvertIntoShapes<ap_fixed<6, 3>>("cv_s63");
  ConvertIntoShapes<ap_ufixed<6, 3>>("cv_u63");
  ConvertIntoShapes<ap_fixed<7, 1>>("cv_s71");
  ConvertIntoShapes<ap_fixed<5, 6>>("cv_s56");
  ConvertIntoShapes<ap_fixed<6, -2>>("cv_sm2");
  ConvertIntoShapes<ap_int<6>>("cv_i6");
  ConvertIntoShapes<ap_uint<6>>("cv_u6");

  BinaryFixedAll<ap_fixed<5, 2>, ap_fixed<4, 3>>("bf_s52_s43");
  BinaryFixedAll<ap_ufixed<5, 2>, ap_fixed<4, 1>>("bf_u52_s41");
  BinaryFixedAll<ap_fixed<6, 6>, ap_ufixed<4, -1>>("bf_s66_um1");
  BinaryFixedAll<ap_fixed<5, 7>, ap_fixed<5, 2>>("bf_s57_s52");
  BinaryIntAll<ap_int<5>, ap_int<4>>("bi_s5_s4");
  BinaryIntAll<ap_uint<5>, ap_int<4>>("bi_u5_s4");
  BinaryIntAll<ap_int<6>, ap_uint<3>>("bi_s6_u3");
  BinaryIntAll<ap_uint<4>, ap_uint<5>>("bi_u4_u5");

  UnaryFixedAll<ap_fixed<7, 3>>("un_s73");
  UnaryFixedAll<ap_ufixed<6, 2>>("un_u62");
  UnaryFixedAll<ap_fixed<6, 8>>("un_s68");
  UnaryFixedAll<ap_fixed<6, 0>>("un_s60");
  UnaryFixedAll<ap_fixed<5, -2>>("un_sm2");

  FromDoublesAllModes<8, 4>("db_84");
  FromDoublesAllModes<12, 2>("db_122");
  FromDoublesAllModes<6, 8>("db_68");
  FromDoublesAllModes<40, 20>("db_4020");

  WideRandom<ap_int<128>, ap_int<128>>("wr_i128", 3000, false);
  WideRandom<ap_uint<100>, ap_int<77>>("wr_u100_i77", 3000, false);
  WideRandom<ap_fixed<128, 40>, ap_fixed<96, 70>>("wr_f128", 3000);
  WideRandom<ap_ufixed<90, 10>, ap_fixed<65, 64>>("wr_uf90", 3000);
  WideRandom<ap_uint<40>, ap_int<32>>("wr_u40_i32", 2000);
  WideRandom<ap_int<48>, ap_uint<33>>("wr_i48_u33", 2000);
  WideRandom<ap_uint<33>, ap_int<33>>("wr_u33_i33", 2000);
  WideRandom<ap_int<64>, ap_uint<64>>("wr_i64_u64", 2000);
  WideRandom<ap_int<31>, ap_uint<20>>("wr_i31_u20", 2000);
  WideConvert<ap_fixed<40, 12, AP_RND_CONV, AP_SAT>, ap_fixed<128, 50>>("wc_a",
                                                                        3000);
  WideConvert<ap_fixed<70, 3, AP_RND, AP_SAT_SYM>, ap_fixed<128, 5>>("wc_b",
                                                                     3000);
  WideConvert<ap_ufixed<64, 64, AP_RND_INF, AP_WRAP, 3>, ap_fixed<128, 80>>(
      "wc_c", 3000);
  return 0;
}
