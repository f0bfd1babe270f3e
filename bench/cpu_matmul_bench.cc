// Weight bandwidth of the CPU integer GEMV (tokens = 1, decode) per ISA,
// next to STREAM-triad and read-only figures for the same machine. A GEMV
// reads every weight byte once, so for matrices larger than the last-level
// cache its ceiling is memory bandwidth: compare BM_Gemv's bytes_per_second
// (packed weight bytes per second) with BM_Triad's (3 x 8 bytes per
// element, the STREAM convention) and BM_Read's (a read-only stream, like
// the weights). Google Benchmark prints bytes per second in binary units
// (G/s = GiB/s). Run: build/release/bench/cpu_matmul_bench
#include <benchmark/benchmark.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "backends/cpu/int8_matmul.h"
#include "backends/cpu/thread_pool.h"

namespace fxserve::backends::cpu {
namespace {

ThreadPool& Pool(int threads) {
  static std::map<int, std::unique_ptr<ThreadPool>>* pools =
      new std::map<int, std::unique_ptr<ThreadPool>>();
  std::unique_ptr<ThreadPool>& pool = (*pools)[threads];
  if (pool == nullptr) pool = std::make_unique<ThreadPool>(threads);
  return *pool;
}

// Packed random weights, made once per shape.
const PackedWeights& Weights(int in, int out, int bits) {
  static auto* cache =
      new std::map<std::tuple<int, int, int>, std::unique_ptr<PackedWeights>>();
  std::unique_ptr<PackedWeights>& w = (*cache)[{in, out, bits}];
  if (w == nullptr) {
    std::mt19937 rng(in * 31 + out + bits);
    std::vector<int8_t> codes(static_cast<size_t>(in) * out);
    for (int8_t& c : codes) {
      c = static_cast<int8_t>(bits == 8 ? static_cast<int>(rng() >> 24) - 128
                                        : static_cast<int>(rng() >> 28) - 8);
    }
    w = std::make_unique<PackedWeights>(
        *PackedWeights::Pack(codes, out, in, bits));
  }
  return *w;
}

void BM_Gemv(benchmark::State& state, Isa isa, int bits, int in, int out,
             int tokens, int threads) {
  if (!IsaSupported(isa)) {
    state.SkipWithError("ISA not supported by this CPU");
    return;
  }
  const PackedWeights& w = Weights(in, out, bits);
  std::vector<int8_t> x(static_cast<size_t>(tokens) * in);
  std::mt19937 rng(1);
  for (int8_t& v : x) v = static_cast<int8_t>(rng());
  std::vector<int32_t> acc(static_cast<size_t>(tokens) * out);
  ThreadPool& pool = Pool(threads);
  // One contiguous slice of whole 16-row panels per thread.
  const int panels = (out + 15) / 16;
  const auto slice = [&](int k) {
    const int begin = panels * k / threads * 16;
    const int end = k + 1 == threads ? out : panels * (k + 1) / threads * 16;
    MatMul(isa, w, x.data(), tokens, begin, end, acc.data(), out);
  };
  for (auto _ : state) {
    pool.ParallelFor(threads, slice);
    benchmark::DoNotOptimize(acc.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(w.bytes()));
  state.counters["weight_MB"] = static_cast<double>(w.bytes()) / 1e6;
}

constexpr size_t kTriadN = (size_t{64} << 20) / sizeof(double);

// The three 64 MiB arrays of the triad (made once).
std::vector<double>& TriadArray(int k) {
  static auto* arrays = new std::vector<std::vector<double>>{
      std::vector<double>(kTriadN, 1.0), std::vector<double>(kTriadN, 2.0),
      std::vector<double>(kTriadN, 0.5)};
  return (*arrays)[k];
}

// STREAM triad a = b + s * c over 3 arrays of 64 MiB of doubles; bytes are
// counted the STREAM way (3 x 8 per element; the write-allocate read of a
// makes the real traffic 4/3 of that).
void BM_Triad(benchmark::State& state, int threads) {
  double* a = TriadArray(0).data();
  const double* b = TriadArray(1).data();
  const double* c = TriadArray(2).data();
  ThreadPool& pool = Pool(threads);
  const double s = 3.0;
  const auto slice = [&](int k) {
    const size_t begin = kTriadN * k / threads;
    const size_t end = kTriadN * (k + 1) / threads;
    for (size_t i = begin; i < end; ++i) a[i] = b[i] + s * c[i];
  };
  for (auto _ : state) {
    pool.ParallelFor(threads, slice);
    benchmark::DoNotOptimize(a);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(3 * kTriadN * sizeof(double)));
}

// Sums of 64-bit words, with enough independent chains (and, when the CPU
// has AVX2, 32-byte loads) that memory, not the adds, sets the speed.
uint64_t SumWords(const uint64_t* p, size_t n) {
  uint64_t sum[16] = {};
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) sum[j] += p[i + j];
  }
  for (; i < n; ++i) sum[0] += p[i];
  uint64_t total = 0;
  for (uint64_t s : sum) total += s;
  return total;
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) uint64_t SumWordsAvx2(const uint64_t* p,
                                                      size_t n) {
  __m256i sum[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(),
                    _mm256_setzero_si256(), _mm256_setzero_si256()};
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 4; ++j) {
      sum[j] = _mm256_add_epi64(
          sum[j],
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 4 * j)));
    }
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes),
                     _mm256_add_epi64(_mm256_add_epi64(sum[0], sum[1]),
                                      _mm256_add_epi64(sum[2], sum[3])));
  return lanes[0] + lanes[1] + lanes[2] + lanes[3] + SumWords(p + i, n - i);
}
#endif

// Read-only bandwidth, like a GEMV's weight stream: sums the triad's
// 192 MiB as 64-bit integers.
void BM_Read(benchmark::State& state, int threads) {
  ThreadPool& pool = Pool(threads);
#if defined(__x86_64__)
  const bool avx2 = __builtin_cpu_supports("avx2");
#endif
  std::vector<uint64_t> partial(threads);
  const auto slice = [&](int k) {
    const size_t begin = kTriadN * k / threads;
    const size_t end = kTriadN * (k + 1) / threads;
    uint64_t sum = 0;
    for (int array = 0; array < 3; ++array) {
      const uint64_t* p =
          reinterpret_cast<const uint64_t*>(TriadArray(array).data());
#if defined(__x86_64__)
      if (avx2) {
        sum += SumWordsAvx2(p + begin, end - begin);
        continue;
      }
#endif
      sum += SumWords(p + begin, end - begin);
    }
    partial[k] = sum;
  };
  for (auto _ : state) {
    pool.ParallelFor(threads, slice);
    benchmark::DoNotOptimize(partial.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(3 * kTriadN * sizeof(double)));
}

// The cost of one ParallelFor with an empty body: waking the workers and
// waiting for them (what splitting a small GEMV over threads pays).
void BM_ParallelForOverhead(benchmark::State& state, int threads) {
  ThreadPool& pool = Pool(threads);
  std::atomic<int> sink{0};
  const auto body = [&](int i) {
    sink.fetch_add(i, std::memory_order_relaxed);
  };
  for (auto _ : state) pool.ParallelFor(threads, body);
  benchmark::DoNotOptimize(sink.load());
}

void RegisterAll() {
  const int max_threads = static_cast<int>(std::thread::hardware_concurrency());
  std::vector<int> thread_counts = {1};
  if (max_threads > 1) thread_counts.push_back(max_threads);
  for (int threads : thread_counts) {
    benchmark::RegisterBenchmark(
        ("BM_Triad/threads:" + std::to_string(threads)).c_str(), BM_Triad,
        threads)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(
        ("BM_Read/threads:" + std::to_string(threads)).c_str(), BM_Read,
        threads)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  for (int threads : thread_counts) {
    benchmark::RegisterBenchmark(
        ("BM_ParallelForOverhead/threads:" + std::to_string(threads)).c_str(),
        BM_ParallelForOverhead, threads)
        ->UseRealTime();
  }
  struct Shape {
    int in, out, tokens;
  };
  // 768 x 3072 (GPT-2 small MLP: 2.4 MB int8, in cache), 768 x 50304
  // (GPT-2 LM head: 39 MB int8, 19 MB int4, around a 32 MB L3), 4096 x
  // 50304 (206 / 103 MB: a pure DRAM stream), and the LM head for a batch of
  // 16 decode tokens (the weights are still read once).
  const Shape shapes[] = {
      {768, 3072, 1}, {768, 50304, 1}, {4096, 50304, 1}, {768, 50304, 16}};
  for (const Shape& shape : shapes) {
    for (int bits : {8, 4}) {
      for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni}) {
        for (int threads : thread_counts) {
          const std::string name = std::string("BM_Gemv/") + IsaName(isa) +
                                   "/int" + std::to_string(bits) + "/" +
                                   std::to_string(shape.in) + "x" +
                                   std::to_string(shape.out) +
                                   "/tokens:" + std::to_string(shape.tokens) +
                                   "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), BM_Gemv, isa, bits,
                                       shape.in, shape.out, shape.tokens,
                                       threads)
              ->UseRealTime()
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }
}

}  // namespace
}  // namespace fxserve::backends::cpu

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  fxserve::backends::cpu::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
