// `fxclient bench`: a closed-loop load generator for streamed generation, in
// the spirit of Triton's perf_analyzer and vLLM's benchmark_serving.
//
// `concurrency` clients, each with its own InferenceClient (and so its own
// gRPC channel), run GenerateStream calls back to back until `requests` have
// been started in all (or `duration` has passed). Request i gets seed
// `seed + i` and, unless `prompt_fixed`, the prompt `prompt + " " + i`, so a
// run is reproducible whatever order the requests happen to finish in.
//
// The stream carries text pieces, not token ids, so output is counted in
// pieces (non-empty on_text calls), which approximate tokens: a detokenizer
// may hold back or merge tokens that do not end on a character boundary.
//
// The statistics half (NearestRankPercentile, ComputeLatencyStats,
// Summarize) is pure so that it can be tested on known samples.
#ifndef FXSERVE_CLIENTS_CPP_BENCH_H_
#define FXSERVE_CLIENTS_CPP_BENCH_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/cpp/inference_client.h"
#include "clients/cpp/llm_protocol.h"

namespace fxserve::client {

// The nearest-rank percentile of `sorted` (ascending): the smallest sample
// such that at least p% of the samples are <= it, i.e. sorted[ceil(p/100 *
// n) - 1]. Always one of the samples, never interpolated; p = 0 gives the
// minimum and p = 100 the maximum; p outside [0, 100] is clamped. nullopt
// when there are no samples.
std::optional<double> NearestRankPercentile(const std::vector<double>& sorted,
                                            double p);

// Summary of one kind of latency, in milliseconds. Every value is nullopt
// when there are no samples (e.g. TTFT when no request succeeded).
struct LatencyStats {
  size_t count = 0;
  std::optional<double> mean;
  std::optional<double> p50;
  std::optional<double> p90;
  std::optional<double> p99;
  std::optional<double> max;
};

// Sorts the samples and takes the nearest-rank percentiles.
LatencyStats ComputeLatencyStats(std::vector<double> samples_ms);

// What one request measured. Times are from just before GenerateStream is
// called, on a steady clock.
struct RequestSample {
  int64_t index = 0;
  absl::Status status;
  // Time to the first non-empty piece; nullopt when none arrived.
  std::optional<double> ttft_ms;
  // Gaps between consecutive pieces (pieces - 1 of them).
  std::vector<double> gaps_ms;
  // Until GenerateStream returned.
  double e2e_ms = 0;
  int64_t pieces = 0;
};

// A failure message and how many requests failed with it.
struct ErrorCount {
  std::string message;  // "CODE: message"
  int64_t count = 0;
};

struct BenchSummary {
  int64_t requested = 0;  // The --requests bound.
  int clients = 0;   // min(concurrency, requests): idle ones are not opened.
  int64_t sent = 0;  // Requests started (fewer when --duration-s hit).
  int64_t ok = 0;
  int64_t failed = 0;
  // Distinct failure messages in the order first seen, at most
  // kMaxDistinctErrors of them; `failed` counts them all.
  std::vector<ErrorCount> errors;
  bool stopped_by_duration = false;
  double wall_s = 0;
  // Throughput counts successful requests and their pieces only, so that
  // fast failures do not inflate it.
  int64_t pieces = 0;
  double requests_per_s = 0;
  double pieces_per_s = 0;
  // Latencies of successful requests; inter-piece gaps are pooled over all
  // of them.
  LatencyStats ttft_ms;
  LatencyStats inter_piece_ms;
  LatencyStats e2e_ms;
};

inline constexpr size_t kMaxDistinctErrors = 5;

// Aggregates `samples` (in completion order) over a run of `wall` time.
// Leaves `requested` and `stopped_by_duration` to the caller.
BenchSummary Summarize(const std::vector<RequestSample>& samples,
                       absl::Duration wall);

struct BenchOptions {
  ClientOptions client;
  // Model, sampling options and per-request timeout; `seed` is ignored (see
  // `seed` below) and `request_id` is set to "bench-<index>".
  GenerateOptions generate;
  int concurrency = 16;
  int64_t requests = 128;
  std::string prompt = "Once upon a time";
  bool prompt_fixed = false;
  uint64_t seed = 0;  // Request i uses seed + i (wrapping).
  // No new request starts after this long; infinite = only `requests`
  // bounds the run.
  absl::Duration duration = absl::InfiniteDuration();
  absl::Duration progress_interval = absl::Seconds(1);

  // InvalidArgument naming the bad field.
  absl::Status Validate() const;
};

// The prompt and seed of request `index`.
std::string PromptFor(const BenchOptions& options, int64_t index);
uint64_t SeedFor(const BenchOptions& options, int64_t index);

// Called from the waiting thread about every progress_interval.
using BenchProgress = std::function<void(
    int64_t done, int64_t failed, int64_t total, absl::Duration elapsed)>;

// Runs the benchmark. Before the clock starts, every client makes one
// ServerLive call so that connection setup is not counted in the first
// requests' TTFT; an error there (server unreachable, bad token, ...) is
// returned and no request is sent. Request failures are not errors: they
// are counted in the summary.
absl::StatusOr<BenchSummary> RunBench(const BenchOptions& options,
                                      const BenchProgress& progress);

// The summary as the human-readable report fxclient prints, and as one JSON
// object (single line, no trailing newline). Empty statistics are "-" in
// text and null in JSON.
std::string FormatSummaryText(const BenchSummary& summary,
                              const BenchOptions& options);
std::string FormatSummaryJson(const BenchSummary& summary,
                              const BenchOptions& options);

}  // namespace fxserve::client

#endif  // FXSERVE_CLIENTS_CPP_BENCH_H_
