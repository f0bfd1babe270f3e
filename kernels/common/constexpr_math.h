// Elementary functions evaluated at compile time, for building lookup
// tables. Kernels never call libm for table contents: std::exp and friends
// are not constexpr, and their results differ between C libraries, which
// would make the tables (and so the hardware's bits) depend on the build
// machine. These are plain series in double arithmetic, so a given compiler
// front end produces the same table everywhere; the tables' final rounding to
// fixed point absorbs the series' last-bit error.
#ifndef FXSERVE_KERNELS_COMMON_CONSTEXPR_MATH_H_
#define FXSERVE_KERNELS_COMMON_CONSTEXPR_MATH_H_

namespace fxserve::kernels::cmath {

inline constexpr double kLn2 = 0.693147180559945309417232121458;
inline constexpr double kLog2E = 1.442695040888963407359924681002;
inline constexpr double kSqrt2OverPi = 0.797884560802865355879892119869;

constexpr double Abs(double x) { return x < 0 ? -x : x; }

// 2^n for integer n.
constexpr double Pow2(int n) {
  double r = 1.0;
  for (; n > 0; --n) r *= 2.0;
  for (; n < 0; ++n) r *= 0.5;
  return r;
}

// e^x: x = k ln2 + r with |r| <= ln2/2, then a Taylor series for e^r.
constexpr double Exp(double x) {
  if (x > 700.0) return 1e300;
  if (x < -700.0) return 0.0;
  const double scaled = x * kLog2E;
  const int k = static_cast<int>(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
  const double r = x - k * kLn2;
  double term = 1.0, sum = 1.0;
  for (int i = 1; i < 30; ++i) {
    term *= r / i;
    sum += term;
  }
  return sum * Pow2(k);
}

// 2^x for real x.
constexpr double Exp2(double x) { return Exp(x * kLn2); }

constexpr double Tanh(double x) {
  if (x > 20.0) return 1.0;
  if (x < -20.0) return -1.0;
  const double e2 = Exp(2.0 * x);
  return (e2 - 1.0) / (e2 + 1.0);
}

// Square root by Newton's method from a power-of-two first guess.
constexpr double Sqrt(double x) {
  if (x <= 0.0) return 0.0;
  double guess = 1.0;
  while (guess * guess < x) guess *= 2.0;
  while (guess * guess > 4.0 * x) guess *= 0.5;
  for (int i = 0; i < 60; ++i) guess = 0.5 * (guess + x / guess);
  return guess;
}

// GPT-2's GELU ("gelu_new"): 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))).
constexpr double GeluTanh(double x) {
  return 0.5 * x * (1.0 + Tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)));
}

// Nearest integer to x, ties away from zero (how tables round).
constexpr long long RoundToInt(double x) {
  return static_cast<long long>(x < 0 ? x - 0.5 : x + 0.5);
}

}  // namespace fxserve::kernels::cmath

#endif  // FXSERVE_KERNELS_COMMON_CONSTEXPR_MATH_H_
