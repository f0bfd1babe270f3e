// The HTTP listeners over real sockets on 127.0.0.1: health answers follow
// the handlers, /metrics body and content type, 404 / 405, HEAD, Stop(),
// two listeners side by side, and clear errors when a port is taken.
#include "server/http/http_endpoints.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace fxserve::server {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kMetricsBody[] =
    "# HELP fxserve_requests_total Requests finished.\n"
    "# TYPE fxserve_requests_total counter\n"
    "fxserve_requests_total{model=\"tiny-gpt2\"} 3\n";

// Handlers backed by atomics the test flips.
struct State {
  std::atomic<bool> live{true};
  std::atomic<bool> ready{false};
  std::atomic<int> scrapes{0};

  HttpHandlers Handlers() {
    HttpHandlers h;
    h.live = [this] { return live.load(); };
    h.ready = [this] { return ready.load(); };
    h.metrics_text = [this] {
      ++scrapes;
      return std::string(kMetricsBody);
    };
    return h;
  }
};

std::unique_ptr<HttpEndpoints> StartOrDie(bool health_routes,
                                          HttpHandlers handlers) {
  absl::StatusOr<std::unique_ptr<HttpEndpoints>> endpoints =
      HttpEndpoints::Start("127.0.0.1", 0, health_routes, std::move(handlers));
  EXPECT_TRUE(endpoints.ok()) << endpoints.status();
  if (!endpoints.ok()) return nullptr;
  EXPECT_GT((*endpoints)->port(), 0);
  return std::move(*endpoints);
}

// The client's timeouts only end a hang: a listener that is up answers (or
// refuses a stopped port) at once, and no test waits for a timeout.
constexpr time_t kHangGuardSeconds = 120;

std::unique_ptr<httplib::Client> ClientFor(int port) {
  auto client = std::make_unique<httplib::Client>("127.0.0.1", port);
  client->set_connection_timeout(kHangGuardSeconds, 0);
  client->set_read_timeout(kHangGuardSeconds, 0);
  return client;
}

// A plain listening socket on 127.0.0.1 (no SO_REUSEPORT), as another
// program holding a port would have. Returns the fd; *port gets the port.
int HoldPort(int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  *port = ntohs(addr.sin_port);
  return fd;
}

TEST(HttpEndpoints, LiveAndReadyFollowTheHandlers) {
  State state;
  auto endpoints = StartOrDie(true, state.Handlers());
  ASSERT_NE(endpoints, nullptr);
  auto client = ClientFor(endpoints->port());

  auto live = client->Get("/v2/health/live");
  ASSERT_TRUE(live) << httplib::to_string(live.error());
  EXPECT_EQ(live->status, 200);
  EXPECT_EQ(live->body, "{\"live\":true}");
  EXPECT_EQ(live->get_header_value("Content-Type"), "application/json");

  auto ready = client->Get("/v2/health/ready");
  ASSERT_TRUE(ready) << httplib::to_string(ready.error());
  EXPECT_EQ(ready->status, 503);
  EXPECT_EQ(ready->body, "{\"ready\":false}");

  state.ready = true;
  ready = client->Get("/v2/health/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->body, "{\"ready\":true}");

  state.live = false;
  live = client->Get("/v2/health/live");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 503);
  EXPECT_EQ(live->body, "{\"live\":false}");

  state.ready = false;
  ready = client->Get("/v2/health/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
}

TEST(HttpEndpoints, MetricsBodyAndContentType) {
  State state;
  auto endpoints = StartOrDie(true, state.Handlers());
  ASSERT_NE(endpoints, nullptr);
  auto client = ClientFor(endpoints->port());
  for (int i = 0; i < 3; ++i) {
    auto res = client->Get("/metrics");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, kMetricsBody);
    EXPECT_EQ(res->get_header_value("Content-Type"),
              "text/plain; version=0.0.4; charset=utf-8");
  }
  EXPECT_EQ(state.scrapes, 3);  // Rendered per scrape, not cached.
}

TEST(HttpEndpoints, QueryStringIsIgnored) {
  State state;
  state.ready = true;
  auto endpoints = StartOrDie(true, state.Handlers());
  ASSERT_NE(endpoints, nullptr);
  auto res = ClientFor(endpoints->port())->Get("/v2/health/ready?verbose=1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(HttpEndpoints, HeadAnswersWithoutBody) {
  State state;
  auto endpoints = StartOrDie(true, state.Handlers());
  ASSERT_NE(endpoints, nullptr);
  auto client = ClientFor(endpoints->port());
  auto res = client->Head("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(res->body.empty());
  EXPECT_EQ(res->get_header_value("Content-Type"), kMetricsContentType);
  res = client->Head("/v2/health/ready");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_TRUE(res->body.empty());
}

TEST(HttpEndpoints, UnknownPathsAre404) {
  State state;
  auto endpoints = StartOrDie(true, state.Handlers());
  ASSERT_NE(endpoints, nullptr);
  auto client = ClientFor(endpoints->port());
  for (const char* path :
       {"/", "/v2", "/v2/health", "/v2/health/live/x", "/metricsx", "/metrics/",
        "/v2/models/tiny-gpt2/ready", "/V2/HEALTH/LIVE"}) {
    auto res = client->Get(path);
    ASSERT_TRUE(res) << path << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_EQ(res->body, "404 Not Found\n") << path;
  }
  auto res = client->Post("/v2/infer", "{}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST(HttpEndpoints, OtherMethodsOnKnownPathsAre405) {
  State state;
  auto endpoints = StartOrDie(true, state.Handlers());
  ASSERT_NE(endpoints, nullptr);
  auto client = ClientFor(endpoints->port());
  auto res = client->Post("/metrics", "x", "text/plain");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "GET, HEAD");
  res = client->Delete("/v2/health/live");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  res = client->Put("/v2/health/ready", "", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(state.scrapes, 0);
}

TEST(HttpEndpoints, MetricsOnlyListenerHasNoHealthRoutes) {
  State state;
  HttpHandlers handlers;
  handlers.metrics_text = state.Handlers().metrics_text;
  auto endpoints = StartOrDie(false, std::move(handlers));
  ASSERT_NE(endpoints, nullptr);
  auto client = ClientFor(endpoints->port());
  auto res = client->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, kMetricsBody);
  res = client->Get("/v2/health/live");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  res = client->Post("/v2/health/live", "", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST(HttpEndpoints, HealthOnlyListenerHasNoMetrics) {
  State state;
  HttpHandlers handlers = state.Handlers();
  handlers.metrics_text = nullptr;
  auto endpoints = StartOrDie(true, std::move(handlers));
  ASSERT_NE(endpoints, nullptr);
  auto res = ClientFor(endpoints->port())->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST(HttpEndpoints, ThrowingHandlerGives500AndKeepsServing) {
  State state;
  HttpHandlers handlers = state.Handlers();
  handlers.metrics_text = []() -> std::string {
    throw std::runtime_error("registry broke");
  };
  auto endpoints = StartOrDie(true, std::move(handlers));
  ASSERT_NE(endpoints, nullptr);
  auto client = ClientFor(endpoints->port());
  auto res = client->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  res = client->Get("/v2/health/live");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(HttpEndpoints, StopRefusesConnectionsAndIsIdempotent) {
  State state;
  auto endpoints = StartOrDie(true, state.Handlers());
  ASSERT_NE(endpoints, nullptr);
  const int port = endpoints->port();
  auto client = ClientFor(port);
  auto res = client->Get("/v2/health/live");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);

  endpoints->Stop();
  res = ClientFor(port)->Get("/v2/health/live");
  EXPECT_FALSE(res);
  EXPECT_EQ(res.error(), httplib::Error::Connection);
  endpoints->Stop();  // Again: a no-op.
  endpoints.reset();  // The destructor stops once more.

  // The port is free again for a new listener (SO_REUSEADDR).
  auto again = HttpEndpoints::Start("127.0.0.1", port, true, state.Handlers());
  ASSERT_TRUE(again.ok()) << again.status();
  res = ClientFor(port)->Get("/v2/health/live");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(HttpEndpoints, StopRightAfterStartDoesNotHang) {
  State state;
  for (int i = 0; i < 20; ++i) {
    auto endpoints = StartOrDie(true, state.Handlers());
    ASSERT_NE(endpoints, nullptr);
    endpoints->Stop();
  }
}

TEST(HttpEndpoints, StopDoesNotWaitForAnIdleKeepAliveClient) {
  State state;
  auto endpoints = StartOrDie(true, state.Handlers());
  ASSERT_NE(endpoints, nullptr);
  auto client = ClientFor(endpoints->port());
  client->set_keep_alive(true);  // Leaves an idle connection on a worker.
  auto res = client->Get("/v2/health/live");
  ASSERT_TRUE(res);
  // The client keeps its connection open and idle until the end of the
  // test: Stop() must end it itself (after the server's keep-alive timeout)
  // rather than wait for the client. How soon is not asserted, since it
  // depends on the machine; the bound below is only a hang guard.
  const auto start = std::chrono::steady_clock::now();
  endpoints->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start,
            std::chrono::seconds(kHangGuardSeconds));
}

TEST(HttpEndpoints, TwoListenersAtOnce) {
  State http_state;
  State metrics_state;
  http_state.ready = true;
  auto http = StartOrDie(true, http_state.Handlers());
  HttpHandlers metrics_only;
  metrics_only.metrics_text = [&metrics_state] {
    ++metrics_state.scrapes;
    return std::string("# TYPE up gauge\nup 1\n");
  };
  auto metrics = StartOrDie(false, std::move(metrics_only));
  ASSERT_NE(http, nullptr);
  ASSERT_NE(metrics, nullptr);
  ASSERT_NE(http->port(), metrics->port());

  auto http_client = ClientFor(http->port());
  auto metrics_client = ClientFor(metrics->port());
  for (int i = 0; i < 3; ++i) {
    auto ready = http_client->Get("/v2/health/ready");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 200);
    auto mirror = http_client->Get("/metrics");
    ASSERT_TRUE(mirror);
    EXPECT_EQ(mirror->body, kMetricsBody);
    auto scrape = metrics_client->Get("/metrics");
    ASSERT_TRUE(scrape);
    EXPECT_EQ(scrape->body, "# TYPE up gauge\nup 1\n");
  }
  EXPECT_EQ(http_state.scrapes, 3);
  EXPECT_EQ(metrics_state.scrapes, 3);

  // Stopping one leaves the other serving.
  http->Stop();
  auto scrape = metrics_client->Get("/metrics");
  ASSERT_TRUE(scrape);
  EXPECT_EQ(scrape->status, 200);
}

TEST(HttpEndpoints, PortHeldByAnotherProgramIsAClearError) {
  int port = 0;
  const int fd = HoldPort(&port);
  State state;
  auto endpoints =
      HttpEndpoints::Start("127.0.0.1", port, true, state.Handlers());
  close(fd);
  ASSERT_FALSE(endpoints.ok());
  EXPECT_EQ(endpoints.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(endpoints.status().message(),
              AllOf(HasSubstr(absl::StrCat("cannot listen on 127.0.0.1:", port,
                                           ": address already in use")),
                    HasSubstr("choose another port")));
}

TEST(HttpEndpoints, PortHeldByAnotherListenerIsAClearError) {
  // cpp-httplib's default socket options (SO_REUSEPORT) would let this
  // second bind succeed and split the first one's traffic.
  State state;
  auto first = StartOrDie(true, state.Handlers());
  ASSERT_NE(first, nullptr);
  auto second =
      HttpEndpoints::Start("127.0.0.1", first->port(), false, state.Handlers());
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(
      second.status().message(),
      HasSubstr(absl::StrCat("cannot listen on 127.0.0.1:", first->port(),
                             ": address already in use")));
  auto res = ClientFor(first->port())->Get("/v2/health/live");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(HttpEndpoints, AddressNotOnThisMachineIsAClearError) {
  State state;
  // 192.0.2.0/24 is TEST-NET-1: never assigned to a local interface.
  auto endpoints = HttpEndpoints::Start("192.0.2.1", 0, true, state.Handlers());
  if (endpoints.ok()) {
    GTEST_SKIP() << "this machine allows binding addresses it does not have "
                    "(net.ipv4.ip_nonlocal_bind=1)";
  }
  EXPECT_THAT(
      endpoints.status().message(),
      AllOf(HasSubstr("cannot listen on 192.0.2.1:0"), HasSubstr("0.0.0.0")));
}

TEST(HttpEndpoints, BadArgumentsAreRejected) {
  State state;
  auto bad_port =
      HttpEndpoints::Start("127.0.0.1", 70000, true, state.Handlers());
  ASSERT_FALSE(bad_port.ok());
  EXPECT_EQ(bad_port.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_port.status().message(), HasSubstr("70000"));

  HttpHandlers no_ready = state.Handlers();
  no_ready.ready = nullptr;
  auto missing = HttpEndpoints::Start("127.0.0.1", 0, true, no_ready);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);

  auto nothing = HttpEndpoints::Start("127.0.0.1", 0, false, HttpHandlers{});
  ASSERT_FALSE(nothing.ok());
  EXPECT_EQ(nothing.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fxserve::server
