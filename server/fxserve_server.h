// The fxserve server process: loads the model repository, makes one backend
// and engine per model, and serves gRPC (KServe v2 + health) and HTTP
// (health, /metrics). main.cc only turns flags into ServerOptions.
#ifndef FXSERVE_SERVER_FXSERVE_SERVER_H_
#define FXSERVE_SERVER_FXSERVE_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "server/grpc/health_service.h"
#include "server/grpc/inference_service.h"
#include "server/grpc/service_context.h"
#include "server/http/http_endpoints.h"
#include "server/llm/llm_metrics.h"
#include "server/metrics/metrics.h"

namespace fxserve::server {

struct ServerOptions {
  std::string model_repository;
  std::string backend = "cpu";  // For models whose config names none.
  std::string bind_address = "0.0.0.0";
  int grpc_port = 8001;     // 0 picks a free port.
  int http_port = 8000;     // 0 picks one; -1 turns the listener off.
  int metrics_port = 8002;  // 0 picks one; -1 turns the listener off.
  int threads = 0;          // Backend worker threads per model; 0 = cores.
  int max_batch = 32;       // For models whose config sets none.
  int kv_cache_blocks = 0;  // Per model; 0 = max_batch full contexts.
  int kv_block_tokens = 16;
  int max_queue_size = 256;  // For models whose config sets none.
  int default_max_tokens = 64;
  std::string tls_cert_file;  // Both or neither.
  std::string tls_key_file;
  std::string auth_token_file;  // Empty: no authentication.
  std::string tokenizer_dir;    // Empty: the model's folder, else the
                                // FXSERVE_TOKENIZER_DIR, else the build's.
  // fpga backend (BackendOptions has the details).
  std::string xclbin;
  std::string xclbin_dir;  // Set by --fpga-emulation: the kit's xclbins.
  int fpga_device = 0;
  int fpga_run_timeout_ms = 120000;
  // "process": each fpga instance drives its card from a child process
  // (backends/process/), so that a hung or dead device is recovered by a
  // fresh child; "none": in the server process.
  std::string fpga_isolation = "process";
  // "none", or "cpu": a model whose fpga backend cannot be opened is
  // served on the CPU backend, and says so (log, model config, metrics).
  std::string fallback = "none";

  absl::Status Validate() const;
};

class FxServer {
 public:
  // Loads every model and starts listening. Errors name the model or port.
  static absl::StatusOr<std::unique_ptr<FxServer>> Start(
      const ServerOptions& options);
  ~FxServer();

  int grpc_port() const { return grpc_port_; }
  int http_port() const;     // -1 when off.
  int metrics_port() const;  // -1 when off.
  const ServedModels& models() const { return models_; }
  std::string MetricsText() const { return metrics_.ExpositionText(); }

  // Blocks until the gRPC server shuts down.
  void Wait();
  // Graceful stop: not ready, new requests refused with UNAVAILABLE,
  // in-flight ones finish (cancelled after `timeout`), then the listeners
  // close. Returns the number of requests cancelled at the timeout.
  int Drain(absl::Duration timeout);

 private:
  FxServer() = default;
  absl::Status LoadModels(const ServerOptions& options);
  absl::Status StartGrpc(const ServerOptions& options);
  absl::Status StartHttp(const ServerOptions& options);

  MetricsRegistry metrics_;
  std::unique_ptr<llm::LlmMetricFamilies> llm_metrics_;
  ServedModels models_;
  std::unique_ptr<ServiceContext> services_;
  std::unique_ptr<InferenceService> inference_service_;
  std::unique_ptr<HealthService> health_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int grpc_port_ = 0;
  std::unique_ptr<HttpEndpoints> http_;
  std::unique_ptr<HttpEndpoints> metrics_http_;
};

}  // namespace fxserve::server

#endif  // FXSERVE_SERVER_FXSERVE_SERVER_H_
