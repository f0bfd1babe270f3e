#include "clients/cpp/bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"

namespace fxserve::client {
namespace {

using Clock = std::chrono::steady_clock;

// One thread and one channel per client; far beyond what a 2-core box can
// drive, but a typo like 100000 should be a usage error, not 100k threads.
constexpr int kMaxConcurrency = 1024;

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// Shared by the workers and the waiting thread.
class RunState {
 public:
  explicit RunState(int workers) : workers_left_(workers) {}

  // Claims the next request index; every index is handed out once.
  int64_t NextIndex() { return next_.fetch_add(1); }

  void Add(RequestSample sample) {
    absl::MutexLock lock(&mu_);
    if (!sample.status.ok()) ++failed_;
    samples_.push_back(std::move(sample));
  }
  void WorkerDone() {
    absl::MutexLock lock(&mu_);
    --workers_left_;
  }
  void MarkStoppedByDuration() { stopped_by_duration_ = true; }

  // Waits up to `timeout` for every worker to finish; true when they have.
  // `done` and `failed` get the counts at that moment.
  bool WaitForWorkers(absl::Duration timeout, int64_t& done, int64_t& failed) {
    absl::MutexLock lock(&mu_);
    const bool finished = mu_.AwaitWithTimeout(
        absl::Condition(this, &RunState::AllWorkersDone), timeout);
    done = static_cast<int64_t>(samples_.size());
    failed = failed_;
    return finished;
  }

  std::vector<RequestSample> TakeSamples() {
    absl::MutexLock lock(&mu_);
    return std::move(samples_);
  }
  bool stopped_by_duration() const { return stopped_by_duration_; }

 private:
  bool AllWorkersDone() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return workers_left_ == 0;
  }

  std::atomic<int64_t> next_{0};
  std::atomic<bool> stopped_by_duration_{false};
  absl::Mutex mu_;
  int workers_left_ ABSL_GUARDED_BY(mu_);
  int64_t failed_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<RequestSample> samples_ ABSL_GUARDED_BY(mu_);
};

RequestSample RunOneRequest(const InferenceClient& client,
                            const BenchOptions& options, int64_t index) {
  GenerateOptions generate = options.generate;
  generate.seed = SeedFor(options, index);
  // Lets a slow request in the results be found in the server's log.
  generate.request_id = absl::StrCat("bench-", index);
  const std::string prompt = PromptFor(options, index);

  RequestSample sample;
  sample.index = index;
  const Clock::time_point start = Clock::now();
  Clock::time_point last = start;
  absl::StatusOr<std::string> text =
      client.GenerateStream(prompt, generate, [&](std::string_view) {
        const Clock::time_point now = Clock::now();
        if (sample.pieces == 0) {
          sample.ttft_ms = Ms(now - start);
        } else {
          sample.gaps_ms.push_back(Ms(now - last));
        }
        last = now;
        ++sample.pieces;
        return true;
      });
  sample.e2e_ms = Ms(Clock::now() - start);
  sample.status = text.status();
  return sample;
}

void RunWorker(const InferenceClient& client, const BenchOptions& options,
               Clock::time_point stop_starting_at, RunState& state) {
  for (;;) {
    const int64_t index = state.NextIndex();
    if (index >= options.requests) break;
    // Checked after claiming an index so that "stopped by duration" is only
    // reported when requests were really left unsent.
    if (Clock::now() >= stop_starting_at) {
      state.MarkStoppedByDuration();
      break;
    }
    state.Add(RunOneRequest(client, options, index));
  }
  state.WorkerDone();
}

std::string Fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  return buffer;
}

// Right-aligned in `width`, "-" when there is no value.
std::string Cell(const std::optional<double>& value, int width) {
  std::string text = value.has_value() ? Fixed(*value, 2) : "-";
  if (static_cast<int>(text.size()) < width) {
    text.insert(0, width - text.size(), ' ');
  }
  return text;
}

std::string StatsRow(absl::string_view name, const LatencyStats& stats) {
  std::string count = std::to_string(stats.count);
  count.insert(0, count.size() < 8 ? 8 - count.size() : 0, ' ');
  std::string row = absl::StrCat("  ", name);
  row.append(row.size() < 15 ? 15 - row.size() : 1, ' ');
  absl::StrAppend(&row, count, Cell(stats.mean, 10), Cell(stats.p50, 10),
                  Cell(stats.p90, 10), Cell(stats.p99, 10), Cell(stats.max, 10),
                  "\n");
  return row;
}

nlohmann::ordered_json OptionalJson(const std::optional<double>& value) {
  return value.has_value() ? nlohmann::ordered_json(*value)
                           : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json StatsJson(const LatencyStats& stats) {
  return {{"count", stats.count},           {"mean", OptionalJson(stats.mean)},
          {"p50", OptionalJson(stats.p50)}, {"p90", OptionalJson(stats.p90)},
          {"p99", OptionalJson(stats.p99)}, {"max", OptionalJson(stats.max)}};
}

}  // namespace

std::optional<double> NearestRankPercentile(const std::vector<double>& sorted,
                                            double p) {
  if (sorted.empty()) return std::nullopt;
  p = std::clamp(p, 0.0, 100.0);
  // p * n before dividing: for a whole p the product is exact, so a whole
  // rank stays whole; p / 100 * n rounds some up (7 / 100 * 100 is
  // 7.000000000000001 in binary), which ceil would turn into the next rank.
  const double rank = std::ceil(p * static_cast<double>(sorted.size()) / 100.0);
  const size_t index =
      rank < 1 ? 0 : std::min(static_cast<size_t>(rank), sorted.size()) - 1;
  return sorted[index];
}

LatencyStats ComputeLatencyStats(std::vector<double> samples_ms) {
  LatencyStats stats;
  stats.count = samples_ms.size();
  if (samples_ms.empty()) return stats;
  std::sort(samples_ms.begin(), samples_ms.end());
  stats.mean = std::accumulate(samples_ms.begin(), samples_ms.end(), 0.0) /
               static_cast<double>(samples_ms.size());
  stats.p50 = NearestRankPercentile(samples_ms, 50);
  stats.p90 = NearestRankPercentile(samples_ms, 90);
  stats.p99 = NearestRankPercentile(samples_ms, 99);
  stats.max = samples_ms.back();
  return stats;
}

BenchSummary Summarize(const std::vector<RequestSample>& samples,
                       absl::Duration wall) {
  BenchSummary summary;
  summary.sent = static_cast<int64_t>(samples.size());
  std::vector<double> ttft;
  std::vector<double> gaps;
  std::vector<double> e2e;
  for (const RequestSample& sample : samples) {
    if (!sample.status.ok()) {
      ++summary.failed;
      const std::string message =
          absl::StrCat(absl::StatusCodeToString(sample.status.code()), ": ",
                       sample.status.message());
      auto it = std::find_if(
          summary.errors.begin(), summary.errors.end(),
          [&](const ErrorCount& error) { return error.message == message; });
      if (it != summary.errors.end()) {
        ++it->count;
      } else if (summary.errors.size() < kMaxDistinctErrors) {
        summary.errors.push_back({message, 1});
      }
      continue;
    }
    ++summary.ok;
    summary.pieces += sample.pieces;
    // A successful request may legitimately produce no text (e.g. an
    // immediate end-of-sequence); it then has an end-to-end time but no
    // TTFT.
    if (sample.ttft_ms.has_value()) ttft.push_back(*sample.ttft_ms);
    gaps.insert(gaps.end(), sample.gaps_ms.begin(), sample.gaps_ms.end());
    e2e.push_back(sample.e2e_ms);
  }
  summary.wall_s = absl::ToDoubleSeconds(wall);
  if (summary.wall_s > 0) {
    summary.requests_per_s = static_cast<double>(summary.ok) / summary.wall_s;
    summary.pieces_per_s = static_cast<double>(summary.pieces) / summary.wall_s;
  }
  summary.ttft_ms = ComputeLatencyStats(std::move(ttft));
  summary.inter_piece_ms = ComputeLatencyStats(std::move(gaps));
  summary.e2e_ms = ComputeLatencyStats(std::move(e2e));
  return summary;
}

absl::Status BenchOptions::Validate() const {
  if (concurrency < 1 || concurrency > kMaxConcurrency) {
    return absl::InvalidArgumentError(
        absl::StrCat("--concurrency must be between 1 and ", kMaxConcurrency,
                     ", got ", concurrency));
  }
  if (requests < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--requests must be at least 1, got ", requests));
  }
  if (generate.max_tokens.has_value() && *generate.max_tokens < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-tokens must be at least 1, got ", *generate.max_tokens));
  }
  if (duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the duration must be positive, got ", absl::FormatDuration(duration)));
  }
  if (progress_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the progress interval must be positive");
  }
  return generate.Validate();
}

std::string PromptFor(const BenchOptions& options, int64_t index) {
  if (options.prompt_fixed) return options.prompt;
  // A different prompt per request keeps a server-side prefix or response
  // cache from turning the benchmark into a cache benchmark, while staying
  // close enough in length to keep requests comparable.
  return absl::StrCat(options.prompt, " ", index);
}

uint64_t SeedFor(const BenchOptions& options, int64_t index) {
  return options.seed + static_cast<uint64_t>(index);
}

absl::StatusOr<BenchSummary> RunBench(const BenchOptions& options,
                                      const BenchProgress& progress) {
  if (absl::Status status = options.Validate(); !status.ok()) return status;
  const int workers = static_cast<int>(
      std::min<int64_t>(options.concurrency, options.requests));
  std::vector<std::unique_ptr<InferenceClient>> clients;
  clients.reserve(workers);
  // Each client its own TCP connection, as independent users would have.
  ClientOptions client_options = options.client;
  client_options.own_connection = true;
  for (int i = 0; i < workers; ++i) {
    absl::StatusOr<std::unique_ptr<InferenceClient>> client =
        InferenceClient::Create(client_options);
    if (!client.ok()) return client.status();
    // Channels connect lazily; connecting here keeps the TCP (and TLS)
    // handshake out of the first requests' TTFT, and finds an unreachable
    // server before any request is counted as failed.
    absl::StatusOr<bool> live = (*client)->ServerLive();
    if (!live.ok()) {
      return absl::Status(
          live.status().code(),
          absl::StrCat("connecting client ", i + 1, " of ", workers,
                       " (ServerLive): ", live.status().message()));
    }
    if (!*live) {
      return absl::UnavailableError("the server says it is not live");
    }
    clients.push_back(*std::move(client));
  }

  RunState state(workers);
  const Clock::time_point start = Clock::now();
  Clock::time_point stop_starting_at = Clock::time_point::max();
  // Compared as seconds first: a huge --duration-s would overflow the
  // clock's nanosecond count.
  if (options.duration != absl::InfiniteDuration() &&
      absl::ToDoubleSeconds(options.duration) < 1e9) {
    stop_starting_at = start + std::chrono::duration_cast<Clock::duration>(
                                   absl::ToChronoNanoseconds(options.duration));
  }
  std::vector<std::thread> threads;
  threads.reserve(workers);
  for (int i = 0; i < workers; ++i) {
    threads.emplace_back(RunWorker, std::cref(*clients[i]), std::cref(options),
                         stop_starting_at, std::ref(state));
  }
  for (;;) {
    int64_t done = 0;
    int64_t failed = 0;
    if (state.WaitForWorkers(options.progress_interval, done, failed)) break;
    if (progress) {
      progress(done, failed, options.requests,
               absl::FromChrono(Clock::now() - start));
    }
  }
  const Clock::duration wall = Clock::now() - start;
  for (std::thread& thread : threads) thread.join();

  BenchSummary summary = Summarize(state.TakeSamples(), absl::FromChrono(wall));
  summary.requested = options.requests;
  summary.clients = workers;
  summary.stopped_by_duration = state.stopped_by_duration();
  return summary;
}

std::string FormatSummaryText(const BenchSummary& summary,
                              const BenchOptions& options) {
  const std::string max_tokens =
      options.generate.max_tokens.has_value()
          ? std::to_string(*options.generate.max_tokens)
          : std::string("server default");
  std::string text = absl::StrCat(
      "fxclient bench: model ", options.generate.model, " at ",
      options.client.url, ", ", summary.requested, " requests, concurrency ",
      summary.clients, ", max tokens ", max_tokens, ", seed ", options.seed,
      options.prompt_fixed ? ", fixed prompt" : "", "\n");
  absl::StrAppend(&text, "requests:      ", summary.ok, " ok, ", summary.failed,
                  " failed (", summary.sent, " sent of ", summary.requested,
                  ")\n");
  if (summary.stopped_by_duration) {
    absl::StrAppend(&text, "               stopped starting requests after ",
                    absl::FormatDuration(options.duration), "\n");
  }
  if (!summary.errors.empty()) {
    absl::StrAppend(&text, "errors:        first ", summary.errors.size(),
                    " distinct, with counts\n");
    for (const ErrorCount& error : summary.errors) {
      absl::StrAppend(&text, "  ", error.count, " x ", error.message, "\n");
    }
  }
  absl::StrAppend(&text, "wall time:     ", Fixed(summary.wall_s, 3), " s\n");
  absl::StrAppend(&text, "throughput:    ", Fixed(summary.requests_per_s, 2),
                  " req/s, ", Fixed(summary.pieces_per_s, 1),
                  " pieces/s (pieces ~ tokens)\n");
  absl::StrAppend(&text, "output:        ", summary.pieces, " pieces, ",
                  summary.ok > 0 ? Fixed(static_cast<double>(summary.pieces) /
                                             static_cast<double>(summary.ok),
                                         1)
                                 : std::string("-"),
                  " per ok request\n");
  absl::StrAppend(&text,
                  "latency (ms)          n      mean       p50       p90"
                  "       p99       max\n",
                  StatsRow("TTFT", summary.ttft_ms),
                  StatsRow("inter-piece", summary.inter_piece_ms),
                  StatsRow("end-to-end", summary.e2e_ms));
  absl::StrAppend(&text,
                  "(ok requests only; nearest-rank percentiles; inter-piece "
                  "gaps pooled over requests)\n");
  return text;
}

std::string FormatSummaryJson(const BenchSummary& summary,
                              const BenchOptions& options) {
  nlohmann::ordered_json errors = nlohmann::ordered_json::array();
  for (const ErrorCount& error : summary.errors) {
    errors.push_back({{"message", error.message}, {"count", error.count}});
  }
  nlohmann::ordered_json json = {
      {"model", options.generate.model},
      {"url", options.client.url},
      {"concurrency", summary.clients},
      {"max_tokens", options.generate.max_tokens.has_value()
                         ? nlohmann::ordered_json(*options.generate.max_tokens)
                         : nlohmann::ordered_json(nullptr)},
      {"seed", options.seed},
      {"prompt_fixed", options.prompt_fixed},
      {"requests", summary.requested},
      {"sent", summary.sent},
      {"ok", summary.ok},
      {"failed", summary.failed},
      {"errors", std::move(errors)},
      {"stopped_by_duration", summary.stopped_by_duration},
      {"wall_s", summary.wall_s},
      {"requests_per_s", summary.requests_per_s},
      {"pieces", summary.pieces},
      {"pieces_per_s", summary.pieces_per_s},
      {"ttft_ms", StatsJson(summary.ttft_ms)},
      {"inter_piece_ms", StatsJson(summary.inter_piece_ms)},
      {"e2e_ms", StatsJson(summary.e2e_ms)},
  };
  // Server error messages may hold any bytes; invalid UTF-8 is replaced
  // rather than letting dump() throw.
  return json.dump(-1, ' ', false,
                   nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace fxserve::client
