// bench's statistics (nearest-rank percentiles, aggregation), per-request
// prompt and seed, option checks and report formats, without a server.
#include "clients/cpp/bench.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace fxserve::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;

std::vector<double> Range(int first, int last) {
  std::vector<double> values(last - first + 1);
  std::iota(values.begin(), values.end(), first);
  return values;
}

TEST(NearestRankPercentileTest, EmptyHasNoPercentile) {
  EXPECT_EQ(NearestRankPercentile({}, 50), std::nullopt);
  EXPECT_EQ(NearestRankPercentile({}, 0), std::nullopt);
  EXPECT_EQ(NearestRankPercentile({}, 100), std::nullopt);
}

TEST(NearestRankPercentileTest, TextbookExample) {
  // The worked example of the nearest-rank method (n = 5).
  const std::vector<double> sorted = {15, 20, 35, 40, 50};
  EXPECT_THAT(NearestRankPercentile(sorted, 5), Optional(15.0));
  EXPECT_THAT(NearestRankPercentile(sorted, 30), Optional(20.0));
  EXPECT_THAT(NearestRankPercentile(sorted, 40), Optional(20.0));
  EXPECT_THAT(NearestRankPercentile(sorted, 50), Optional(35.0));
  EXPECT_THAT(NearestRankPercentile(sorted, 100), Optional(50.0));
}

TEST(NearestRankPercentileTest, TenSamples) {
  const std::vector<double> sorted = Range(1, 10);
  EXPECT_THAT(NearestRankPercentile(sorted, 50), Optional(5.0));
  EXPECT_THAT(NearestRankPercentile(sorted, 90), Optional(9.0));
  // ceil(9.9) = 10: p99 of fewer than 100 samples is the maximum.
  EXPECT_THAT(NearestRankPercentile(sorted, 99), Optional(10.0));
  EXPECT_THAT(NearestRankPercentile(sorted, 91), Optional(10.0));
}

TEST(NearestRankPercentileTest, WholeRanksAreNotRoundedUp) {
  // In binary, 7 / 100 * 100 is 7.000000000000001 and 55 / 100 * 100 is
  // 55.00000000000001: a rank computed in that order would be 8 and 56.
  const std::vector<double> sorted = Range(1, 100);
  EXPECT_THAT(NearestRankPercentile(sorted, 7), Optional(7.0));
  EXPECT_THAT(NearestRankPercentile(sorted, 55), Optional(55.0));
  EXPECT_THAT(NearestRankPercentile(sorted, 99), Optional(99.0));
  EXPECT_THAT(NearestRankPercentile(sorted, 99.5), Optional(100.0));
}

TEST(NearestRankPercentileTest, EndsAndOutOfRange) {
  const std::vector<double> sorted = {2, 4, 8};
  EXPECT_THAT(NearestRankPercentile(sorted, 0), Optional(2.0));
  EXPECT_THAT(NearestRankPercentile(sorted, -10), Optional(2.0));
  EXPECT_THAT(NearestRankPercentile(sorted, 250), Optional(8.0));
  EXPECT_THAT(NearestRankPercentile({7}, 50), Optional(7.0));
}

TEST(ComputeLatencyStatsTest, SortsAndSummarizes) {
  const LatencyStats stats = ComputeLatencyStats({5, 1, 4, 2, 3});
  EXPECT_EQ(stats.count, 5u);
  EXPECT_THAT(stats.mean, Optional(3.0));
  EXPECT_THAT(stats.p50, Optional(3.0));
  EXPECT_THAT(stats.p90, Optional(5.0));
  EXPECT_THAT(stats.p99, Optional(5.0));
  EXPECT_THAT(stats.max, Optional(5.0));
}

TEST(ComputeLatencyStatsTest, HundredSamplesInReverse) {
  std::vector<double> samples = Range(1, 100);
  std::reverse(samples.begin(), samples.end());
  const LatencyStats stats = ComputeLatencyStats(samples);
  EXPECT_THAT(stats.mean, Optional(50.5));
  EXPECT_THAT(stats.p50, Optional(50.0));
  EXPECT_THAT(stats.p90, Optional(90.0));
  EXPECT_THAT(stats.p99, Optional(99.0));
  EXPECT_THAT(stats.max, Optional(100.0));
}

TEST(ComputeLatencyStatsTest, EmptyHasOnlyACount) {
  const LatencyStats stats = ComputeLatencyStats({});
  EXPECT_EQ(stats.count, 0u);
  EXPECT_EQ(stats.mean, std::nullopt);
  EXPECT_EQ(stats.p50, std::nullopt);
  EXPECT_EQ(stats.p90, std::nullopt);
  EXPECT_EQ(stats.p99, std::nullopt);
  EXPECT_EQ(stats.max, std::nullopt);
}

RequestSample Ok(int64_t index, std::optional<double> ttft,
                 std::vector<double> gaps, double e2e) {
  RequestSample sample;
  sample.index = index;
  sample.ttft_ms = ttft;
  sample.pieces = ttft.has_value() ? static_cast<int64_t>(gaps.size()) + 1 : 0;
  sample.gaps_ms = std::move(gaps);
  sample.e2e_ms = e2e;
  return sample;
}

RequestSample Failed(int64_t index, absl::Status status) {
  RequestSample sample;
  sample.index = index;
  sample.status = std::move(status);
  // A request can fail after some pieces; they must not be counted.
  sample.ttft_ms = 1000;
  sample.gaps_ms = {1000, 1000};
  sample.pieces = 3;
  sample.e2e_ms = 5000;
  return sample;
}

TEST(SummarizeTest, CountsOnlySuccessfulRequestsInStatistics) {
  const std::vector<RequestSample> samples = {
      Ok(0, 10, {1, 2, 3}, 20),
      Failed(1, absl::UnavailableError("gone")),
      Ok(2, 30, {4}, 40),
      // A successful request without text: end-to-end time but no TTFT.
      Ok(3, std::nullopt, {}, 5),
  };
  const BenchSummary summary = Summarize(samples, absl::Seconds(2));
  EXPECT_EQ(summary.sent, 4);
  EXPECT_EQ(summary.ok, 3);
  EXPECT_EQ(summary.failed, 1);
  EXPECT_EQ(summary.pieces, 6);
  EXPECT_DOUBLE_EQ(summary.wall_s, 2.0);
  EXPECT_DOUBLE_EQ(summary.requests_per_s, 1.5);
  EXPECT_DOUBLE_EQ(summary.pieces_per_s, 3.0);
  EXPECT_EQ(summary.ttft_ms.count, 2u);
  EXPECT_THAT(summary.ttft_ms.p50, Optional(10.0));
  EXPECT_THAT(summary.ttft_ms.max, Optional(30.0));
  // Gaps are pooled over requests: {1, 2, 3, 4}.
  EXPECT_EQ(summary.inter_piece_ms.count, 4u);
  EXPECT_THAT(summary.inter_piece_ms.mean, Optional(2.5));
  EXPECT_THAT(summary.inter_piece_ms.p50, Optional(2.0));
  EXPECT_THAT(summary.inter_piece_ms.p99, Optional(4.0));
  EXPECT_EQ(summary.e2e_ms.count, 3u);
  EXPECT_THAT(summary.e2e_ms.p50, Optional(20.0));
  EXPECT_THAT(summary.e2e_ms.max, Optional(40.0));
  ASSERT_EQ(summary.errors.size(), 1u);
  EXPECT_EQ(summary.errors[0].message, "UNAVAILABLE: gone");
  EXPECT_EQ(summary.errors[0].count, 1);
}

TEST(SummarizeTest, GroupsErrorsInOrderFirstSeenAndKeepsAFew) {
  std::vector<RequestSample> samples;
  int64_t index = 0;
  samples.push_back(Failed(index++, absl::NotFoundError("m0")));
  samples.push_back(Failed(index++, absl::InternalError("e0")));
  samples.push_back(Failed(index++, absl::NotFoundError("m0")));
  for (int i = 1; i <= 6; ++i) {
    samples.push_back(
        Failed(index++, absl::InternalError(absl::StrCat("e", i))));
  }
  samples.push_back(Failed(index++, absl::InternalError("e0")));
  const BenchSummary summary = Summarize(samples, absl::Seconds(1));
  EXPECT_EQ(summary.failed, 10);
  EXPECT_EQ(summary.ok, 0);
  ASSERT_EQ(summary.errors.size(), kMaxDistinctErrors);
  std::vector<std::string> listed;
  for (const ErrorCount& error : summary.errors) {
    listed.push_back(absl::StrCat(error.count, " ", error.message));
  }
  EXPECT_THAT(listed,
              ElementsAre("2 NOT_FOUND: m0", "2 INTERNAL: e0", "1 INTERNAL: e1",
                          "1 INTERNAL: e2", "1 INTERNAL: e3"));
  EXPECT_EQ(summary.pieces, 0);
  EXPECT_EQ(summary.requests_per_s, 0);
  EXPECT_EQ(summary.ttft_ms.count, 0u);
  EXPECT_EQ(summary.ttft_ms.p50, std::nullopt);
}

TEST(SummarizeTest, NoSamplesAndNoTime) {
  const BenchSummary summary = Summarize({}, absl::ZeroDuration());
  EXPECT_EQ(summary.sent, 0);
  EXPECT_EQ(summary.requests_per_s, 0);
  EXPECT_EQ(summary.pieces_per_s, 0);
  EXPECT_THAT(summary.errors, IsEmpty());
  EXPECT_EQ(summary.e2e_ms.max, std::nullopt);
}

TEST(BenchOptionsTest, PromptAndSeedPerRequest) {
  BenchOptions options;
  options.prompt = "Tell me";
  options.seed = 40;
  EXPECT_EQ(PromptFor(options, 0), "Tell me 0");
  EXPECT_EQ(PromptFor(options, 17), "Tell me 17");
  EXPECT_EQ(SeedFor(options, 0), 40u);
  EXPECT_EQ(SeedFor(options, 17), 57u);
  options.prompt_fixed = true;
  EXPECT_EQ(PromptFor(options, 17), "Tell me");
  options.seed = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(SeedFor(options, 2), 1u);
}

TEST(BenchOptionsTest, ValidateNamesTheBadField) {
  EXPECT_TRUE(BenchOptions().Validate().ok());
  const auto expect_invalid = [](BenchOptions options,
                                 const std::string& field) {
    const absl::Status status = options.Validate();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(status.message(), HasSubstr(field));
  };
  BenchOptions options;
  options.concurrency = 0;
  expect_invalid(options, "--concurrency");
  options = BenchOptions();
  options.concurrency = 1025;
  expect_invalid(options, "--concurrency");
  options = BenchOptions();
  options.requests = 0;
  expect_invalid(options, "--requests");
  options = BenchOptions();
  options.generate.max_tokens = 0;
  expect_invalid(options, "--max-tokens");
  options = BenchOptions();
  options.duration = absl::ZeroDuration();
  expect_invalid(options, "duration");
  options = BenchOptions();
  options.generate.model = "";
  expect_invalid(options, "model");
}

BenchSummary SampleSummary() {
  BenchSummary summary = Summarize(
      {Ok(0, 10, {1, 3}, 20), Failed(1, absl::NotFoundError("no \xff"))},
      absl::Seconds(4));
  summary.requested = 2;
  summary.clients = 2;
  return summary;
}

BenchOptions SampleOptions() {
  BenchOptions options;
  options.client.url = "localhost:9";
  options.generate.max_tokens = 8;
  options.seed = 3;
  return options;
}

TEST(FormatSummaryTest, JsonHasEveryCountAndNullForEmptyStatistics) {
  BenchSummary summary = SampleSummary();
  summary.ttft_ms = ComputeLatencyStats({});
  const nlohmann::json json = nlohmann::json::parse(
      FormatSummaryJson(summary, SampleOptions()), nullptr, false);
  ASSERT_FALSE(json.is_discarded());
  EXPECT_EQ(json["model"], "tiny-gpt2");
  EXPECT_EQ(json["url"], "localhost:9");
  EXPECT_EQ(json["concurrency"], 2);
  EXPECT_EQ(json["max_tokens"], 8);
  EXPECT_EQ(json["seed"], 3);
  EXPECT_EQ(json["requests"], 2);
  EXPECT_EQ(json["sent"], 2);
  EXPECT_EQ(json["ok"], 1);
  EXPECT_EQ(json["failed"], 1);
  ASSERT_EQ(json["errors"].size(), 1u);
  // The invalid UTF-8 byte is replaced, not a reason to throw.
  EXPECT_EQ(json["errors"][0]["message"], "NOT_FOUND: no \xEF\xBF\xBD");
  EXPECT_EQ(json["errors"][0]["count"], 1);
  EXPECT_EQ(json["wall_s"], 4.0);
  EXPECT_EQ(json["requests_per_s"], 0.25);
  EXPECT_EQ(json["pieces"], 3);
  EXPECT_EQ(json["pieces_per_s"], 0.75);
  EXPECT_EQ(json["ttft_ms"],
            nlohmann::json::parse(R"({"count":0,"mean":null,"p50":null,)"
                                  R"("p90":null,"p99":null,"max":null})"));
  EXPECT_EQ(json["inter_piece_ms"],
            nlohmann::json::parse(R"({"count":2,"mean":2.0,"p50":1.0,)"
                                  R"("p90":3.0,"p99":3.0,"max":3.0})"));
  EXPECT_EQ(json["e2e_ms"]["p99"], 20.0);
}

TEST(FormatSummaryTest, TextReport) {
  const std::string text = FormatSummaryText(SampleSummary(), SampleOptions());
  EXPECT_EQ(text,
            "fxclient bench: model tiny-gpt2 at localhost:9, 2 requests, "
            "concurrency 2, max tokens 8, seed 3\n"
            "requests:      1 ok, 1 failed (2 sent of 2)\n"
            "errors:        first 1 distinct, with counts\n"
            "  1 x NOT_FOUND: no \xff\n"
            "wall time:     4.000 s\n"
            "throughput:    0.25 req/s, 0.8 pieces/s (pieces ~ tokens)\n"
            "output:        3 pieces, 3.0 per ok request\n"
            "latency (ms)          n      mean       p50       p90       p99"
            "       max\n"
            "  TTFT                1     10.00     10.00     10.00     10.00"
            "     10.00\n"
            "  inter-piece         2      2.00      1.00      3.00      3.00"
            "      3.00\n"
            "  end-to-end          1     20.00     20.00     20.00     20.00"
            "     20.00\n"
            "(ok requests only; nearest-rank percentiles; inter-piece gaps "
            "pooled over requests)\n");
}

TEST(RunBenchTest, UnreachableServerFailsBeforeAnyRequest) {
  BenchOptions options;
  options.client.url = "127.0.0.1:1";
  options.concurrency = 2;
  int progress_calls = 0;
  const absl::StatusOr<BenchSummary> summary = RunBench(
      options,
      [&](int64_t, int64_t, int64_t, absl::Duration) { ++progress_calls; });
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(summary.status().message(),
              HasSubstr("connecting client 1 of 2 (ServerLive)"));
  EXPECT_EQ(progress_calls, 0);
}

TEST(RunBenchTest, InvalidOptionsAreRejectedFirst) {
  BenchOptions options;
  options.requests = -1;
  EXPECT_EQ(RunBench(options, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fxserve::client
