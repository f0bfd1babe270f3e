// Prometheus' own checker on our exposition text: `promtool check metrics`
// parses it with Prometheus' text parser and lints it (counter suffixes,
// units, help text, ...). Any output from promtool fails the test, so a
// lint warning counts as much as a parse error.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/metrics/metrics.h"

namespace fxserve::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// promtool from PATH, else where Debian's prometheus package puts it;
// empty if neither exists.
std::string FindPromtool() {
  const char* path = std::getenv("PATH");
  for (const auto dir : absl::StrSplit(path == nullptr ? "" : path, ':')) {
    if (dir.empty()) continue;
    const std::string candidate = absl::StrCat(dir, "/promtool");
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  if (access("/usr/bin/promtool", X_OK) == 0) return "/usr/bin/promtool";
  return "";
}

struct PromtoolResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together.
};

// Writes `text` to a temporary file and runs `promtool check metrics < file`.
PromtoolResult CheckMetrics(const std::string& promtool,
                            const std::string& text) {
  std::string path = absl::StrCat(::testing::TempDir(), "/metricsXXXXXX");
  const int fd = mkstemp(path.data());
  EXPECT_GE(fd, 0) << "cannot create a temporary file in "
                   << ::testing::TempDir();
  PromtoolResult result;
  if (fd < 0) return result;
  close(fd);
  {
    std::ofstream file(path, std::ios::binary);
    file << text;
  }
  const std::string command =
      absl::StrCat("'", promtool, "' check metrics < '", path, "' 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr) << "cannot run " << command;
  if (pipe == nullptr) return result;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0)
    result.output.append(buf, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::remove(path.c_str());
  return result;
}

class MetricsPromtool : public ::testing::Test {
 protected:
  void SetUp() override {
    promtool_ = FindPromtool();
    ASSERT_FALSE(promtool_.empty())
        << "promtool not found (neither on PATH nor /usr/bin/promtool). "
           "Run tools/install-deps.sh, which installs Debian's prometheus "
           "package.";
  }

  // Expects promtool to accept `text` without a word.
  void ExpectClean(const std::string& text) {
    const PromtoolResult result = CheckMetrics(promtool_, text);
    EXPECT_EQ(result.exit_code, 0) << "promtool output:\n"
                                   << result.output << "\nfor:\n"
                                   << text;
    EXPECT_EQ(result.output, "") << "promtool complained about:\n" << text;
  }

  std::string promtool_;
};

// Metrics shaped like the server's: per-model request counters, queue
// gauges and latency histograms.
TEST_F(MetricsPromtool, ServerLikeRegistryIsClean) {
  MetricsRegistry registry;
  auto& requests = registry.AddCounter(
      "fxserve_requests_total", "Inference requests finished, by outcome.",
      {"model", "version", "status"});
  auto& tokens = registry.AddCounter("fxserve_generated_tokens_total",
                                     "Tokens generated.", {"model"});
  auto& pending = registry.AddGauge("fxserve_pending_requests",
                                    "Requests waiting for a batch slot.", {});
  auto& kv =
      registry.AddGauge("fxserve_kv_cache_usage_ratio",
                        "Fraction of KV-cache blocks in use.", {"model"});
  auto& ttft = registry.AddHistogram(
      "fxserve_time_to_first_token_seconds",
      "Time from request arrival to the first generated token.", {"model"},
      {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  auto& batch = registry.AddHistogram(
      "fxserve_batch_size", "Sequences per decode step.", {}, {1, 2, 4, 8});

  requests.With({"tiny-gpt2", "1", "ok"}).Increment(41);
  requests.With({"tiny-gpt2", "1", "cancelled"}).Increment();
  requests.With({"tiny-gpt2", "1", "invalid_argument"}).Increment(2);
  tokens.With({"tiny-gpt2"}).Increment(1234);
  pending.With({}).Set(3);
  kv.With({"tiny-gpt2"}).Set(0.375);
  for (double s : {0.004, 0.02, 0.02, 0.3, 7.5, 12.0}) {
    ttft.With({"tiny-gpt2"}).Observe(s);
  }
  for (double n : {1, 1, 3, 8, 9}) batch.With({}).Observe(n);
  ExpectClean(registry.ExpositionText());
}

TEST_F(MetricsPromtool, LabelValuesNeedingEscapesAreClean) {
  MetricsRegistry registry;
  auto& requests = registry.AddCounter(
      "fxserve_escape_requests_total",
      "Help with a backslash \\ a \"quote\" and a\nnewline.",
      {"model", "reason"});
  auto& gauge = registry.AddGauge("fxserve_escape_value", "Escapes.", {"path"});
  auto& hist = registry.AddHistogram("fxserve_escape_seconds", "Escapes.",
                                     {"prompt"}, {0.5, 1});
  requests.With({"quote\"d", "back\\slash"}).Increment();
  requests.With({"new\nline", "trailing backslash\\"}).Increment(2);
  requests.With({"\\\"\n\\n", "{a=\"b\",c}"}).Increment(3);
  requests.With({"", "empty model"}).Increment();
  requests.With({"unicode \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "tab\there"})
      .Increment();
  gauge.With({"C:\\models\\tiny\"gpt2\"\n"}).Set(1);
  hist.With({"say \"hi\"\\\n"}).Observe(0.7);
  ExpectClean(registry.ExpositionText());
}

TEST_F(MetricsPromtool, SpecialSampleValuesAreClean) {
  MetricsRegistry registry;
  auto& gauge =
      registry.AddGauge("fxserve_special_value", "Odd values.", {"case"});
  gauge.With({"nan"}).Set(std::numeric_limits<double>::quiet_NaN());
  gauge.With({"plus_inf"}).Set(std::numeric_limits<double>::infinity());
  gauge.With({"minus_inf"}).Set(-std::numeric_limits<double>::infinity());
  gauge.With({"negative"}).Set(-2.5);
  gauge.With({"tiny"}).Set(1e-300);
  gauge.With({"huge"}).Set(1.7976931348623157e308);
  gauge.With({"third"}).Set(1.0 / 3);
  gauge.With({"big_integer"}).Set(1e15 + 1);
  auto& counter =
      registry.AddCounter("fxserve_special_total", "Big counts.", {});
  counter.With({}).Increment(1e20);
  counter.With({}).Increment(0.5);
  auto& hist = registry.AddHistogram("fxserve_special_seconds",
                                     "Fractional and huge bounds.", {},
                                     {1e-9, 0.1, 1e12});
  hist.With({}).Observe(1e13);
  ExpectClean(registry.ExpositionText());
}

TEST_F(MetricsPromtool, FamiliesWithoutSamplesAreClean) {
  MetricsRegistry registry;
  registry.AddCounter("fxserve_idle_total", "Never incremented.", {"model"});
  registry.AddGauge("fxserve_idle_value", "Never set.", {"model"});
  registry.AddHistogram("fxserve_idle_seconds", "Never observed.", {"model"},
                        {1});
  // Children that exist but hold zero.
  auto& zero = registry.AddHistogram("fxserve_zero_seconds", "Created only.",
                                     {"model"}, {0.1, 1});
  zero.With({"tiny-gpt2"});
  ExpectClean(registry.ExpositionText());
}

TEST_F(MetricsPromtool, EmptyRegistryIsClean) {
  MetricsRegistry registry;
  ExpectClean(registry.ExpositionText());
}

// The check above is only worth something if promtool's complaints reach
// it: a counter without "_total" is a lint problem, garbage a parse error.
TEST_F(MetricsPromtool, ComplaintsAreCaught) {
  MetricsRegistry registry;
  registry.AddCounter("fxserve_requests", "Missing the suffix.", {})
      .With({})
      .Increment();
  const PromtoolResult lint =
      CheckMetrics(promtool_, registry.ExpositionText());
  EXPECT_NE(lint.exit_code, 0);
  EXPECT_THAT(lint.output, HasSubstr("_total"));

  const PromtoolResult parse =
      CheckMetrics(promtool_, "# TYPE x gauge\nx{a=\"unterminated} 1\n");
  EXPECT_NE(parse.exit_code, 0);
  EXPECT_THAT(parse.output, Not(""));
}

}  // namespace
}  // namespace fxserve::server
