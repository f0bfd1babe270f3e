// fxserve end to end under cancellation, deadlines, a full queue, auth,
// SIGTERM and a bad backend. Slow generation comes from the csim backend
// (the HLS kernels in C-simulation, tens of tokens/s), so a request is
// reliably still running when the test acts on it.
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
constexpr int kSlowTokens = 16;
#endif

constexpr char kKvUsed[] =
    "fxserve_kv_cache_blocks_used{model=\"tiny-gpt2\",backend=\"csim\"}";
constexpr char kRunning[] =
    "fxserve_running_requests{model=\"tiny-gpt2\",backend=\"csim\"}";

std::unique_ptr<InferenceClient> MakeClient(const ServerProcess& server,
                                            const std::string& token = "") {
  auto client = InferenceClient::Create(UrlOptions(server.grpc_url(), token));
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

// Polls a metric until it equals `want` (the engine updates gauges at step
// boundaries); returns the last value read.
double AwaitMetric(const ServerProcess& server, const std::string& sample,
                   double want) {
  double value = -1;
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
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
      "reason=\"cancelled\"}");
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_GE(*cancelled, 1);
}

TEST_F(CsimServerTest, DeadlineEndsTheRequestAndFreesKv) {
  ASSERT_NE(server_, nullptr);
  auto client = MakeClient(*server_);
  ASSERT_NE(client, nullptr);
  GenerateOptions options;
  options.max_tokens = 200;  // Seconds of C-simulation.
  options.seed = 2;
  options.timeout = absl::Milliseconds(400);
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> text = client->Generate("Too slow", options);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kDeadlineExceeded)
      << text.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  EXPECT_EQ(AwaitMetric(*server_, kKvUsed, 0), 0);
  EXPECT_EQ(AwaitMetric(*server_, kRunning, 0), 0);
}

TEST(ServerQueueTest, FullQueueIsResourceExhausted) {
  // One sequence at a time and one waiting: a third concurrent request
  // must be refused at once, and the first two still complete.
  const std::string repository = MakeRepository(
      "backend: \"csim\"\nmax_batch: 1\nqueue_policy { max_queue_size: 1 }");
  auto server = ServerProcess::Start({"--model-repository=" + repository});
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = MakeClient(**server);
  ASSERT_NE(client, nullptr);
  GenerateOptions options;
  options.max_tokens = kSlowTokens;
  options.seed = 4;
  absl::Notification first_running;
  std::vector<absl::Status> results(2);
  std::thread first([&] {
    results[0] = client
                     ->GenerateStream("first", options,
                                      [&](std::string_view) {
                                        if (!first_running.HasBeenNotified()) {
                                          first_running.Notify();
                                        }
                                        return true;
                                      })
                     .status();
  });
  ASSERT_TRUE(first_running.WaitForNotificationWithTimeout(absl::Seconds(60)));
  std::thread second(
      [&] { results[1] = client->Generate("second", options).status(); });
  // The second request is queued once the pending gauge says so.
  EXPECT_EQ(AwaitMetric(**server,
                        "fxserve_pending_requests{model=\"tiny-gpt2\","
                        "backend=\"csim\"}",
                        1),
            1);
  absl::StatusOr<std::string> third = client->Generate("third", options);
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted)
      << third.status();
  first.join();
  second.join();
  EXPECT_TRUE(results[0].ok()) << results[0];
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
  auto server = ServerProcess::Start({"--backend=csim"});
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
  ASSERT_TRUE(streaming.WaitForNotificationWithTimeout(absl::Seconds(60)));
  (*server)->SendSignal(SIGTERM);
  // A request arriving while draining is refused (or finds the port shut).
  absl::SleepFor(absl::Milliseconds(100));
  absl::StatusOr<std::string> late = client->Generate("late", options);
  EXPECT_FALSE(late.ok());
  request.join();
  ASSERT_TRUE(text.ok()) << "the in-flight request was not drained: "
                         << text.status() << "\n"
                         << (*server)->Log();
  absl::StatusOr<int> status = (*server)->WaitForExit(absl::Seconds(60));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 0) << (*server)->Log();
  EXPECT_NE((*server)->Log().find("draining"), std::string::npos);
}

TEST(ServerStartupTest, FpgaBackendFailsWithAClearMessage) {
  auto server = ServerProcess::Start({"--backend=fpga"});
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("--backend=cpu"), std::string::npos)
      << server.status();
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
