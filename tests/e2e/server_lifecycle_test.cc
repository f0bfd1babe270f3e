// fxserve end to end under cancellation, deadlines, a full queue, auth,
// SIGTERM and a bad repository (the fpga backend's start-up errors are in
// server_fpga_test.cc). Slow generation comes from the csim backend
// (the HLS kernels in C-simulation, tens of tokens/s), so a request is
// reliably still running when the test acts on it.
//
// No test depends on the machine's speed: one csim step takes from
// milliseconds (Release) to half a minute (ASan + UBSan on a slow
// machine), and the server acts only at step boundaries. Tests wait for
// states (a metric, a streamed piece, readiness) with kHang, a bound that
// only a hung server reaches.
#include <signal.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "clients/cpp/inference_client.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_client.h"
#include "tests/e2e/server_process.h"

namespace fxserve::testing {
namespace {

using client::GenerateOptions;
using client::InferenceClient;

#ifdef FXSERVE_SANITIZED
constexpr int kSlowTokens = 4;  // C-simulation under ASan is ~30x slower.
#else
constexpr int kSlowTokens = 48;  // About a second of C-simulation.
#endif

// Only reached when something hangs (ctest ends an e2e test at 600 s).
constexpr absl::Duration kHang = absl::Seconds(300);

constexpr char kKvUsed[] =
    "fxserve_kv_cache_blocks_used{model=\"tiny-gpt2\",backend=\"csim\","
    "model_instance=\"csim_0\"}";
constexpr char kRunning[] =
    "fxserve_running_requests{model=\"tiny-gpt2\",backend=\"csim\",model_instance="
    "\"csim_0\"}";

std::unique_ptr<InferenceClient> MakeClient(const ServerProcess& server,
                                            const std::string& token = "") {
  auto client = InferenceClient::Create(UrlOptions(server.grpc_url(), token));
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

// Polls a metric until it equals `want` (the engine updates gauges at step
// boundaries, however long a step takes); returns the last value read.
double AwaitMetric(const ServerProcess& server, const std::string& sample,
                   double want) {
  double value = -1;
  const absl::Time give_up = absl::Now() + kHang;
  while (absl::Now() < give_up) {
    absl::StatusOr<double> read = server.MetricValue(sample);
    if (read.ok()) {
      value = *read;
      if (value == want) break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return value;
}

class CsimServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto server = ServerProcess::Start({"--backend=csim"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static ServerProcess* server_;
};

ServerProcess* CsimServerTest::server_ = nullptr;

TEST_F(CsimServerTest, CancelledStreamFreesItsKvCache) {
  ASSERT_NE(server_, nullptr);
  auto client = MakeClient(*server_);
  ASSERT_NE(client, nullptr);
  GenerateOptions options;
  options.max_tokens = 200;
  options.seed = 1;
  double kv_while_running = -1;
  int pieces = 0;
  absl::StatusOr<std::string> text = client->GenerateStream(
      "Cancel me after a few words", options, [&](std::string_view) {
        if (++pieces < 3) return true;
        absl::StatusOr<double> kv = server_->MetricValue(kKvUsed);
        kv_while_running = kv.ok() ? *kv : -1;
        return false;  // Cancels the call.
      });
  EXPECT_EQ(text.status().code(), absl::StatusCode::kCancelled)
      << text.status();
  EXPECT_GT(kv_while_running, 0) << "the running request held no KV blocks";
  EXPECT_EQ(AwaitMetric(*server_, kKvUsed, 0), 0)
      << "KV blocks were not freed after the cancel";
  EXPECT_EQ(AwaitMetric(*server_, kRunning, 0), 0);
  absl::StatusOr<double> cancelled = server_->MetricValue(
      "fxserve_request_failure_total{model=\"tiny-gpt2\",backend=\"csim\","
      "model_instance=\"csim_0\","
      "reason=\"cancelled\"}");
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_GE(*cancelled, 1);
}

TEST_F(CsimServerTest, DeadlineEndsTheRequestAndFreesKv) {
  ASSERT_NE(server_, nullptr);
  auto client = MakeClient(*server_);
  ASSERT_NE(client, nullptr);
  GenerateOptions options;
  // 200 tokens of C-simulation take seconds (3 s on a fast machine in
  // Release), 30x the deadline; if the deadline passes before the request
  // is admitted, the server ends it just the same.
  options.max_tokens = 200;
  options.seed = 2;
  options.timeout = absl::Milliseconds(100);
  const std::string deadlines =
      "fxserve_request_failure_total{model=\"tiny-gpt2\",backend=\"csim\","
      "model_instance=\"csim_0\","
      "reason=\"deadline_exceeded\"}";
  const double deadlines_before = server_->MetricValue(deadlines).value_or(0);
  absl::StatusOr<std::string> text = client->Generate("Too slow", options);
  // The client gives up at its deadline; the server ends the request at
  // its next step boundary, whenever that comes.
  EXPECT_EQ(text.status().code(), absl::StatusCode::kDeadlineExceeded)
      << text.status();
  EXPECT_EQ(AwaitMetric(*server_, kRunning, 0), 0);
  EXPECT_EQ(AwaitMetric(*server_, kKvUsed, 0), 0);
  EXPECT_EQ(AwaitMetric(*server_, deadlines, deadlines_before + 1),
            deadlines_before + 1)
      << "the deadline was not counted as reason=\"deadline_exceeded\"";
}

TEST(ServerQueueTest, FullQueueIsResourceExhausted) {
  // One sequence at a time and one waiting: a third concurrent request
  // must be refused at once. The first runs until the test lets it go (a
  // greedy generation that fills the context without an end of text), so
  // the second is certainly waiting; then the second completes.
  const std::string repository = MakeRepository(
      "backend: \"csim\"\nmax_batch: 1\nqueue_policy { max_queue_size: 1 }");
  auto server = ServerProcess::Start({"--model-repository=" + repository});
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = MakeClient(**server);
  ASSERT_NE(client, nullptr);
  GenerateOptions held;
  held.max_tokens = 250;
  held.temperature = 0.0f;
  GenerateOptions options;
  options.max_tokens = kSlowTokens;
  options.seed = 4;
  absl::Notification first_running;
  std::atomic<bool> release_first{false};
  int first_pieces = 0;
  std::vector<absl::Status> results(2);
  std::thread first([&] {
    results[0] = client
                     ->GenerateStream("first", held,
                                      [&](std::string_view) {
                                        ++first_pieces;
                                        if (!first_running.HasBeenNotified()) {
                                          first_running.Notify();
                                        }
                                        return !release_first.load();
                                      })
                     .status();
  });
  ASSERT_TRUE(first_running.WaitForNotificationWithTimeout(kHang));
  std::thread second(
      [&] { results[1] = client->Generate("second", options).status(); });
  // The second request is queued once the pending gauge says so.
  EXPECT_EQ(AwaitMetric(**server,
                        "fxserve_pending_requests{model=\"tiny-gpt2\","
                        "backend=\"csim\",model_instance=\"csim_0\"}",
                        1),
            1);
  absl::StatusOr<std::string> third = client->Generate("third", options);
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted)
      << third.status();
  release_first = true;
  first.join();
  second.join();
  // Cancelled by the test, not ended by itself: it held the batch slot.
  EXPECT_EQ(results[0].code(), absl::StatusCode::kCancelled)
      << results[0] << " after " << first_pieces << " pieces";
  EXPECT_TRUE(results[1].ok()) << results[1];
}

TEST(ServerAuthTest, BearerTokenIsRequired) {
  const std::string dir = MakeTempDir();
  std::ofstream(dir + "/token") << "s3cret-token\n";
  auto server = ServerProcess::Start({"--auth-token-file=" + dir + "/token"});
  ASSERT_TRUE(server.ok()) << server.status();

  auto anonymous = MakeClient(**server);
  ASSERT_NE(anonymous, nullptr);
  EXPECT_EQ(anonymous->ServerLive().status().code(),
            absl::StatusCode::kUnauthenticated);
  GenerateOptions options;
  options.max_tokens = 3;
  EXPECT_EQ(anonymous->Generate("hi", options).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(
      anonymous
          ->GenerateStream("hi", options, [](std::string_view) { return true; })
          .status()
          .code(),
      absl::StatusCode::kUnauthenticated);
  // Health probes stay open for orchestrators.
  EXPECT_EQ(*anonymous->HealthCheck(""), "SERVING");

  auto wrong = MakeClient(**server, "not-the-token");
  EXPECT_EQ(wrong->ServerLive().status().code(),
            absl::StatusCode::kUnauthenticated);

  auto authorized = MakeClient(**server, "s3cret-token");
  ASSERT_NE(authorized, nullptr);
  EXPECT_TRUE(authorized->Generate("hi", options).ok());
}

TEST(ServerTlsTest, ServesOverTls) {
  // A throwaway self-signed certificate for 127.0.0.1.
  const std::string dir = MakeTempDir();
  const CommandResult openssl =
      RunCommand({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048",
                  "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext",
                  "subjectAltName=IP:127.0.0.1", "-keyout", dir + "/key.pem",
                  "-out", dir + "/cert.pem"});
  ASSERT_EQ(openssl.status, 0)
      << "openssl (run tools/install-deps.sh): " << openssl.err;
  auto server = ServerProcess::Start(
      {"--tls-cert=" + dir + "/cert.pem", "--tls-key=" + dir + "/key.pem"});
  ASSERT_TRUE(server.ok()) << server.status();

  client::ClientOptions tls = UrlOptions((*server)->grpc_url());
  tls.tls_ca_file = dir + "/cert.pem";
  auto secure = InferenceClient::Create(tls);
  ASSERT_TRUE(secure.ok()) << secure.status();
  GenerateOptions options;
  options.max_tokens = 5;
  options.seed = 3;
  absl::StatusOr<std::string> text = (*secure)->Generate("Over TLS", options);
  EXPECT_TRUE(text.ok()) << text.status();

  // A plaintext client cannot talk to the TLS port.
  client::ClientOptions plain = UrlOptions((*server)->grpc_url());
  plain.default_timeout = absl::Seconds(5);
  auto insecure = InferenceClient::Create(plain);
  ASSERT_TRUE(insecure.ok());
  EXPECT_FALSE((*insecure)->ServerLive().ok());
}

TEST(ServerShutdownTest, SigtermDrainsInFlightRequests) {
  // The drain waits as long as the request needs on any machine.
  auto server =
      ServerProcess::Start({"--backend=csim", "--drain-timeout-s=600"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = MakeClient(**server);
  ASSERT_NE(client, nullptr);
  GenerateOptions options;
  options.max_tokens = kSlowTokens;
  options.seed = 8;
  options.temperature = 0.0f;  // Greedy: no early end of text.
  absl::Notification streaming;
  int pieces = 0;
  absl::StatusOr<std::string> text;
  std::thread request([&] {
    text = client->GenerateStream("Drain me", options, [&](std::string_view) {
      if (++pieces == 1) streaming.Notify();
      return true;
    });
  });
  ASSERT_TRUE(streaming.WaitForNotificationWithTimeout(kHang));
  (*server)->SendSignal(SIGTERM);
  // Once the server says it is not ready (it is draining), a new request
  // is refused (or finds the port shut).
  const absl::Time give_up = absl::Now() + kHang;
  while (client->ServerReady().value_or(false) && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  absl::StatusOr<std::string> late = client->Generate("late", options);
  EXPECT_FALSE(late.ok());
  request.join();
  ASSERT_TRUE(text.ok()) << "the in-flight request was not drained: "
                         << text.status() << "\n"
                         << (*server)->Log();
  absl::StatusOr<int> status = (*server)->WaitForExit(kHang);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 0) << (*server)->Log();
  EXPECT_NE((*server)->Log().find("draining"), std::string::npos);
}

TEST(ServerStartupTest, MissingRepositoryFailsWithAClearMessage) {
  auto server = ServerProcess::Start({"--model-repository=/nonexistent/repo"});
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("--model-repository"),
            std::string::npos)
      << server.status();
}

}  // namespace
}  // namespace fxserve::testing
