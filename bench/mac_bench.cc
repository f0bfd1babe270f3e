// Throughput of fixed-point multiply-accumulate in emulation: the cost of
// running HLS kernels on the host with fxserve's ap_ types, next to plain
// C++ integers doing the same sums. Reported as items (MACs) per second.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/linalg/mac.h"

namespace {

constexpr int kLength = 1024;

struct ConfigW8A8 {
  using input_t = ap_int<8>;
  using weight_t = ap_int<8>;
  using accum_t = ap_int<32>;
  static constexpr int kLength = ::kLength;
  static constexpr int kUnroll = 8;
};

struct ConfigW4A8 {
  using input_t = ap_int<8>;
  using weight_t = ap_int<4>;
  using accum_t = ap_int<24>;
  static constexpr int kLength = ::kLength;
  static constexpr int kUnroll = 8;
};

// Q-format fixed point with a rounding, saturating accumulator.
struct ConfigFixedSat {
  using input_t = ap_fixed<8, 3>;
  using weight_t = ap_fixed<8, 1>;
  using accum_t = ap_fixed<24, 10, AP_RND_CONV, AP_SAT>;
  static constexpr int kLength = ::kLength;
  static constexpr int kUnroll = 8;
};

// A wide accumulator that spills into two 64-bit limbs.
struct ConfigWide {
  using input_t = ap_fixed<40, 20>;
  using weight_t = ap_fixed<40, 4>;
  using accum_t = ap_fixed<96, 40>;
  static constexpr int kLength = ::kLength;
  static constexpr int kUnroll = 8;
};

template <class T>
std::vector<T> RandomVector(int bits, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> dist(-(int64_t{1} << (bits - 1)),
                                              (int64_t{1} << (bits - 1)) - 1);
  std::vector<T> v(kLength);
  for (auto& x : v) x.range(bits - 1, 0) = dist(rng);
  return v;
}

template <class Config>
void BM_DotProduct(benchmark::State& state) {
  const auto input = RandomVector<typename Config::input_t>(
      Config::input_t::width > 40 ? 40 : Config::input_t::width, 1);
  const auto weight = RandomVector<typename Config::weight_t>(
      Config::weight_t::width > 40 ? 40 : Config::weight_t::width, 2);
  for (auto _ : state) {
    auto sum =
        fxserve::kernels::DotProduct<Config>(input.data(), weight.data());
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * kLength);
}
BENCHMARK(BM_DotProduct<ConfigW8A8>);
BENCHMARK(BM_DotProduct<ConfigW4A8>);
BENCHMARK(BM_DotProduct<ConfigFixedSat>);
BENCHMARK(BM_DotProduct<ConfigWide>);

// Baseline: the same W8A8 sum with plain int8_t/int32_t.
void BM_DotProductPlainInt8(benchmark::State& state) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> dist(-128, 127);
  std::vector<int8_t> input(kLength), weight(kLength);
  for (int i = 0; i < kLength; ++i) {
    input[i] = static_cast<int8_t>(dist(rng));
    weight[i] = static_cast<int8_t>(dist(rng));
  }
  for (auto _ : state) {
    int32_t sum = 0;
    for (int i = 0; i < kLength; ++i) sum += input[i] * weight[i];
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * kLength);
}
BENCHMARK(BM_DotProductPlainInt8);

}  // namespace

BENCHMARK_MAIN();
