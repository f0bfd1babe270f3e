#include "server/http/http_endpoints.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <system_error>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"

namespace fxserve::server {
namespace {

// Small on purpose: probes and scrapes are rare and cheap, and the gRPC
// server needs the cores. Each worker serves one connection at a time.
constexpr size_t kWorkerThreads = 2;
// An idle keep-alive connection pins a worker and delays Stop() this long.
constexpr time_t kKeepAliveSeconds = 2;
constexpr time_t kReadTimeoutSeconds = 5;
// Only GETs are served, so a body is never needed.
constexpr size_t kMaxRequestBody = 4096;

constexpr char kLivePath[] = "/v2/health/live";
constexpr char kReadyPath[] = "/v2/health/ready";
constexpr char kMetricsPath[] = "/metrics";

// The server prefixes errors with the flag that set the port (--http-port,
// --metrics-port), so the flag is not named here.
constexpr char kChoosePort[] =
    "stop the program holding it or choose another port (0 picks a free "
    "one)";

std::string HostPort(const std::string& address, int port) {
  if (address.find(':') != std::string::npos) {
    return absl::StrCat("[", address, "]:", port);  // IPv6 literal.
  }
  return absl::StrCat(address, ":", port);
}

// SO_REUSEADDR only (restarts are not blocked by TIME_WAIT). cpp-httplib's
// default also sets SO_REUSEPORT, which would let a second server bind a
// port that is already serving and silently take half of its connections.
void ListenSocketOptions(int sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
}

// Why address:port cannot be bound: cpp-httplib reports only that the bind
// failed, so try it again here to get the errno.
std::string BindFailureReason(const std::string& address, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int rc = getaddrinfo(address.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) {
    return absl::StrCat("cannot resolve the address (", gai_strerror(rc),
                        "); give an IP address such as 0.0.0.0 (all "
                        "interfaces) or 127.0.0.1");
  }
  int error = 0;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    const int fd =
        socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      error = errno;
      continue;
    }
    ListenSocketOptions(fd);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1) == 0) {
      close(fd);
      error = 0;
      break;
    }
    error = errno;
    close(fd);
  }
  freeaddrinfo(found);
  switch (error) {
    case EADDRINUSE:
      return absl::StrCat("address already in use; ", kChoosePort);
    case EADDRNOTAVAIL:
      return "no network interface of this machine has that address; listen "
             "on 0.0.0.0 (all interfaces) or 127.0.0.1";
    case EACCES:
      return absl::StrCat(
          "permission denied (ports below 1024 need root or "
          "CAP_NET_BIND_SERVICE); ",
          kChoosePort);
    case 0:
      return absl::StrCat(
          "the bind failed, then succeeded on retry (another "
          "program racing for the port?); ",
          kChoosePort);
    default:
      return absl::StrCat(std::generic_category().message(error), "; ",
                          kChoosePort);
  }
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

void HealthAnswer(httplib::Response& res, const char* what, bool ok) {
  res.status = ok ? 200 : 503;
  res.set_content(absl::StrCat("{\"", what, "\":", ok ? "true" : "false", "}"),
                  "application/json");
}

}  // namespace

HttpEndpoints::HttpEndpoints(std::unique_ptr<httplib::Server> server, int port)
    : server_(std::move(server)), port_(port) {}

HttpEndpoints::~HttpEndpoints() { Stop(); }

absl::StatusOr<std::unique_ptr<HttpEndpoints>> HttpEndpoints::Start(
    const std::string& address, int port, bool health_routes,
    HttpHandlers handlers) {
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP port ", port,
                     " is out of range; give 1..65535, or 0 to pick a free "
                     "port"));
  }
  if (health_routes && (!handlers.live || !handlers.ready)) {
    return absl::InvalidArgumentError(
        "HttpEndpoints::Start: the health routes need both a live and a "
        "ready handler");
  }
  if (!health_routes && !handlers.metrics_text) {
    return absl::InvalidArgumentError(
        "HttpEndpoints::Start: nothing to serve (no health routes and no "
        "metrics handler)");
  }

  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] {
    return new httplib::ThreadPool(kWorkerThreads);
  };
  server->set_socket_options(ListenSocketOptions);
  server->set_keep_alive_timeout(kKeepAliveSeconds);
  server->set_read_timeout(kReadTimeoutSeconds, 0);
  server->set_payload_max_length(kMaxRequestBody);

  // cpp-httplib answers HEAD from the GET handlers (headers only).
  if (health_routes) {
    server->Get(kLivePath,
                [live = std::move(handlers.live)](const httplib::Request&,
                                                  httplib::Response& res) {
                  HealthAnswer(res, "live", live());
                });
    server->Get(kReadyPath,
                [ready = std::move(handlers.ready)](const httplib::Request&,
                                                    httplib::Response& res) {
                  HealthAnswer(res, "ready", ready());
                });
  }
  const bool serve_metrics = static_cast<bool>(handlers.metrics_text);
  if (serve_metrics) {
    server->Get(kMetricsPath,
                [metrics = std::move(handlers.metrics_text)](
                    const httplib::Request&, httplib::Response& res) {
                  res.set_content(metrics(), kMetricsContentType);
                });
  }
  // Other methods on our paths: 405 rather than cpp-httplib's 404.
  server->set_pre_routing_handler([health_routes, serve_metrics](
                                      const httplib::Request& req,
                                      httplib::Response& res) {
    if (req.method == "GET" || req.method == "HEAD") {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    const bool known =
        (health_routes && (req.path == kLivePath || req.path == kReadyPath)) ||
        (serve_metrics && req.path == kMetricsPath);
    if (!known) return httplib::Server::HandlerResponse::Unhandled;
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    return httplib::Server::HandlerResponse::Handled;
  });
  // A short plain-text body for errors that have none (404, 405, ...).
  server->set_error_handler(
      [](const httplib::Request&, httplib::Response& res) {
        if (res.body.empty()) {
          res.set_content(
              absl::StrCat(res.status, " ", ReasonPhrase(res.status), "\n"),
              "text/plain; charset=utf-8");
        }
      });
  server->set_exception_handler([](const httplib::Request&,
                                   httplib::Response& res, std::exception_ptr) {
    res.status = 500;
    res.set_content("500 Internal Server Error\n", "text/plain; charset=utf-8");
  });

  int bound = -1;
  if (port == 0) {
    bound = server->bind_to_any_port(address);
  } else if (server->bind_to_port(address, port)) {
    bound = port;
  }
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", HostPort(address, port), ": ",
                     BindFailureReason(address, port)));
  }

  std::unique_ptr<HttpEndpoints> endpoints =
      absl::WrapUnique(new HttpEndpoints(std::move(server), bound));
  HttpEndpoints* self = endpoints.get();
  self->thread_ = std::thread([self] {
    self->server_->listen_after_bind();
    self->loop_done_ = true;
  });
  // cpp-httplib's stop() is a no-op until the accept loop runs: wait for it,
  // so that a Stop() right after Start() is not lost (and Stop never hangs).
  while (!self->server_->is_running() && !self->loop_done_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (self->loop_done_) {
    return absl::InternalError(
        absl::StrCat("the HTTP listener on ", HostPort(address, bound),
                     " stopped right after starting; try another port"));
  }
  return endpoints;
}

void HttpEndpoints::Stop() {
  absl::MutexLock lock(&stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace fxserve::server
