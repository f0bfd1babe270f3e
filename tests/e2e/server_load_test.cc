// Bounded load on the real server: 64 concurrent streams, a few hundred
// requests. Nothing may be lost, every stream's text must equal the same
// request run alone (the backend's bits do not depend on the batch), and
// a /metrics scrape taken under load must pass `promtool check metrics`.
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "clients/cpp/inference_client.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_client.h"
#include "tests/e2e/server_process.h"

namespace fxserve::testing {
namespace {

using client::GenerateOptions;
using client::InferenceClient;

#ifdef FXSERVE_SANITIZED
constexpr int kRequestsPerStream = 2;  // Sanitized builds are ~10x slower.
#else
constexpr int kRequestsPerStream = 5;
#endif
constexpr int kStreams = 64;
constexpr int kDistinctRequests = 32;

struct Request {
  std::string prompt;
  GenerateOptions options;
};

std::vector<Request> MakeRequests() {
  const std::vector<std::string> starts = {
      "A man walks into a bar", "Once upon a time", "The secret of",
      "You will meet",          "Never trust",      "In the beginning"};
  std::vector<Request> requests;
  for (int i = 0; i < kDistinctRequests; ++i) {
    Request request;
    request.prompt = absl::StrCat(starts[i % starts.size()], " ", i);
    request.options.max_tokens = 8 + (i * 7) % 24;  // Mixed lengths.
    request.options.seed = 1000 + i;
    if (i % 4 == 0) request.options.temperature = 0.0f;
    requests.push_back(request);
  }
  return requests;
}

TEST(ServerLoadTest, SixtyFourStreamsMatchRequestsRunAlone) {
  auto server = ServerProcess::Start({});
  ASSERT_TRUE(server.ok()) << server.status();
  auto created = InferenceClient::Create(UrlOptions((*server)->grpc_url()));
  ASSERT_TRUE(created.ok()) << created.status();
  const InferenceClient& client = **created;

  // Reference: each distinct request alone on the idle server.
  const std::vector<Request> requests = MakeRequests();
  std::vector<std::string> alone;
  for (const Request& request : requests) {
    absl::StatusOr<std::string> text =
        client.Generate(request.prompt, request.options);
    ASSERT_TRUE(text.ok()) << text.status();
    alone.push_back(*text);
  }

  constexpr int kTotal = kStreams * kRequestsPerStream;
  absl::Mutex mu;
  std::vector<std::string> failures;  // Guarded by mu, as are the counts.
  int completed = 0;                  // Requests that ended well.
  int finished = 0;                   // Requests that ended, well or not.
  std::vector<std::thread> streams;
  for (int s = 0; s < kStreams; ++s) {
    streams.emplace_back([&, s] {
      // Each stream has its own channel, as independent clients would.
      auto own = InferenceClient::Create(UrlOptions((*server)->grpc_url()));
      if (!own.ok()) {
        absl::MutexLock lock(&mu);
        failures.push_back(std::string(own.status().message()));
        finished += kRequestsPerStream;  // None of its requests will run.
        return;
      }
      for (int r = 0; r < kRequestsPerStream; ++r) {
        const int index = (s * kRequestsPerStream + r) % kDistinctRequests;
        const Request& request = requests[index];
        std::string pieces;
        absl::StatusOr<std::string> text = (*own)->GenerateStream(
            request.prompt, request.options, [&](std::string_view piece) {
              pieces.append(piece);
              return true;
            });
        absl::MutexLock lock(&mu);
        ++finished;
        if (!text.ok()) {
          failures.push_back(absl::StrCat("stream ", s, " request ", r, ": ",
                                          text.status().ToString()));
        } else if (*text != alone[index] || pieces != alone[index]) {
          failures.push_back(absl::StrCat("stream ", s, " request ", r, " (#",
                                          index, "): got \"", *text,
                                          "\", alone \"", alone[index], "\""));
        } else {
          ++completed;
        }
      }
    });
  }
  // Scrape while the streams run: once a third of the requests has ended
  // (failures count too, so that a failing run cannot wait here forever).
  // Every request ends by itself; a hung server is ended by ctest's
  // timeout, as the joins below would be.
  const auto third_ended = [&] { return finished >= kTotal / 3; };
  mu.LockWhen(absl::Condition(&third_ended));
  mu.Unlock();
  absl::StatusOr<std::string> metrics =
      (*server)->HttpGet((*server)->metrics_port(), "/metrics");
  for (std::thread& stream : streams) stream.join();

  EXPECT_TRUE(failures.empty())
      << failures.size() << " failures, first: " << failures.front();
  EXPECT_EQ(completed, kTotal);

  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const std::string path = MakeTempDir() + "/scrape.txt";
  std::ofstream(path) << *metrics;
  const CommandResult check =
      RunCommand({"/bin/sh", "-c", "promtool check metrics < " + path});
  EXPECT_EQ(check.status, 0) << "promtool (from Debian's prometheus; run "
                                "tools/install-deps.sh) said:\n"
                             << check.out << check.err;
  EXPECT_EQ(check.out + check.err, "") << "promtool complained";

  // The batch really was shared: some step ran more than one sequence.
  absl::StatusOr<double> steps = (*server)->MetricValue(
      "fxserve_backend_steps_total{model=\"tiny-gpt2\",backend=\"cpu\","
      "model_instance=\"cpu_0\"}");
  absl::StatusOr<double> tokens = (*server)->MetricValue(
      "fxserve_generated_tokens_total{model=\"tiny-gpt2\",backend=\"cpu\","
      "model_instance=\"cpu_0\"}");
  ASSERT_TRUE(steps.ok() && tokens.ok());
  EXPECT_LT(*steps, *tokens) << "no step decoded more than one sequence";
  absl::StatusOr<double> success = (*server)->MetricValue(
      "fxserve_request_success_total{model=\"tiny-gpt2\",backend=\"cpu\","
      "model_instance=\"cpu_0\"}");
  ASSERT_TRUE(success.ok());
  EXPECT_EQ(*success, kDistinctRequests + kTotal);
}

}  // namespace
}  // namespace fxserve::testing
