// The server's plain-HTTP listeners: KServe v2 REST health
// (GET /v2/health/live, GET /v2/health/ready) and the Prometheus scrape
// endpoint (GET /metrics, text format 0.0.4). A thin wrapper over
// cpp-httplib, which stays out of this header so that users of the server
// library do not inherit its compile definitions.
#ifndef FXSERVE_SERVER_HTTP_HTTP_ENDPOINTS_H_
#define FXSERVE_SERVER_HTTP_HTTP_ENDPOINTS_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace fxserve::server {

// What the routes report. Called on the listener's worker threads, possibly
// concurrently, so each must be thread-safe; keep them cheap (a probe or a
// scrape waits on them).
struct HttpHandlers {
  std::function<bool()> live;   // GET /v2/health/live: 200 if true, else 503.
  std::function<bool()> ready;  // GET /v2/health/ready: 200 if true, else 503.
  // GET /metrics body (Prometheus text format 0.0.4). Unset: no /metrics.
  std::function<std::string()> metrics_text;
};

// Content-Type of GET /metrics (Prometheus text exposition format 0.0.4).
inline constexpr char kMetricsContentType[] =
    "text/plain; version=0.0.4; charset=utf-8";

// One listening address:port serving GET (and HEAD) on its own threads: an
// accept thread plus a small worker pool. Unknown paths answer 404; other
// methods on a known path answer 405.
class HttpEndpoints {
 public:
  // Binds address:port (port 0 picks a free port; see port()) and starts
  // serving. With `health_routes`, serves /v2/health/{live,ready} (then
  // `handlers.live` and `handlers.ready` must be set); /metrics is served
  // when `handlers.metrics_text` is set. Fails with a message naming the
  // address and what to do when the port cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpEndpoints>> Start(
      const std::string& address, int port, bool health_routes,
      HttpHandlers handlers);

  HttpEndpoints(const HttpEndpoints&) = delete;
  HttpEndpoints& operator=(const HttpEndpoints&) = delete;
  ~HttpEndpoints();  // Stop()s.

  // The bound port (the one picked when Start was given port 0).
  int port() const { return port_; }

  // Closes the listening socket and waits for requests in flight (an idle
  // keep-alive connection holds this up to 2 s). Idempotent; thread-safe.
  void Stop();

 private:
  HttpEndpoints(std::unique_ptr<httplib::Server> server, int port);

  const std::unique_ptr<httplib::Server> server_;
  const int port_;
  std::thread thread_;                  // Runs the accept loop.
  std::atomic<bool> loop_done_{false};  // Set when the accept loop returns.
  absl::Mutex stop_mu_;
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
};

}  // namespace fxserve::server

#endif  // FXSERVE_SERVER_HTTP_HTTP_ENDPOINTS_H_
