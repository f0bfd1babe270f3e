// The Prometheus text exposition: exact output for each metric type, label
// escaping, histogram buckets, and counts under concurrent updates.
#include "server/metrics/metrics.h"

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace fxserve::server {
namespace {

TEST(Metrics, CounterAndGaugeExposition) {
  MetricsRegistry registry;
  auto& requests = registry.AddCounter(
      "fxserve_requests_total", "Requests finished.", {"model", "backend"});
  auto& pending = registry.AddGauge("fxserve_pending_requests",
                                    "Requests waiting.", {"model"});
  requests.With({"tiny", "cpu"}).Increment();
  requests.With({"tiny", "cpu"}).Increment(2);
  requests.With({"big", "cpu"}).Increment();
  pending.With({"tiny"}).Set(5);
  pending.With({"tiny"}).Add(-1.5);
  EXPECT_EQ(registry.ExpositionText(),
            "# HELP fxserve_requests_total Requests finished.\n"
            "# TYPE fxserve_requests_total counter\n"
            "fxserve_requests_total{model=\"big\",backend=\"cpu\"} 1\n"
            "fxserve_requests_total{model=\"tiny\",backend=\"cpu\"} 3\n"
            "# HELP fxserve_pending_requests Requests waiting.\n"
            "# TYPE fxserve_pending_requests gauge\n"
            "fxserve_pending_requests{model=\"tiny\"} 3.5\n");
}

TEST(Metrics, HistogramBucketsAreCumulativeAndInclusive) {
  MetricsRegistry registry;
  auto& latency = registry.AddHistogram(
      "fxserve_ttft_seconds", "Time to first token.", {"model"}, {0.1, 1});
  Histogram& h = latency.With({"tiny"});
  h.Observe(0.05);
  h.Observe(0.1);  // On a bound: counts in that bucket ("le").
  h.Observe(0.5);
  h.Observe(7);
  EXPECT_EQ(registry.ExpositionText(),
            "# HELP fxserve_ttft_seconds Time to first token.\n"
            "# TYPE fxserve_ttft_seconds histogram\n"
            "fxserve_ttft_seconds_bucket{model=\"tiny\",le=\"0.1\"} 2\n"
            "fxserve_ttft_seconds_bucket{model=\"tiny\",le=\"1\"} 3\n"
            "fxserve_ttft_seconds_bucket{model=\"tiny\",le=\"+Inf\"} 4\n"
            "fxserve_ttft_seconds_sum{model=\"tiny\"} 7.65\n"
            "fxserve_ttft_seconds_count{model=\"tiny\"} 4\n");
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  MetricsRegistry registry;
  auto& c = registry.AddCounter("x_total", "line1\nback\\slash", {"m"});
  c.With({"q\"uote"}).Increment();
  EXPECT_EQ(registry.ExpositionText(),
            "# HELP x_total line1\\nback\\\\slash\n"
            "# TYPE x_total counter\n"
            "x_total{m=\"q\\\"uote\"} 1\n");
}

TEST(Metrics, SampleValuesAreSpelledAsPrometheusReadsThem) {
  EXPECT_EQ(FormatSampleValue(3), "3");
  EXPECT_EQ(FormatSampleValue(-2), "-2");
  EXPECT_EQ(FormatSampleValue(0.25), "0.25");
  EXPECT_EQ(FormatSampleValue(0.1), "0.1");
  EXPECT_EQ(FormatSampleValue(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatSampleValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatSampleValue(-std::numeric_limits<double>::infinity()),
            "-Inf");
  EXPECT_EQ(FormatSampleValue(std::nan("")), "NaN");
}

TEST(Metrics, ConcurrentUpdatesAreAllCounted) {
  MetricsRegistry registry;
  auto& counter = registry.AddCounter("c_total", "c", {"t"});
  auto& hist = registry.AddHistogram("h_seconds", "h", {}, {1, 2});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        counter.With({"x"}).Increment();
        hist.With({}).Observe(i % 3);
        if (i % 1000 == 0) (void)registry.ExpositionText();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(counter.With({"x"}).value(), 40000);
  const Histogram::Snapshot s = hist.With({}).Take();
  EXPECT_EQ(s.count, 40000u);
  EXPECT_EQ(s.cumulative.back(), 40000u);
  // i % 3 = 0 (3334 times per thread) and 1 (3333) are <= 1.
  EXPECT_EQ(s.cumulative[0], 4u * 6667);
}

}  // namespace
}  // namespace fxserve::server
