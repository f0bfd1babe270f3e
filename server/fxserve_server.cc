#include "server/fxserve_server.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "backends/backend.h"
#include "backends/failover_backend.h"
#include "model/quantized_artifact.h"
#include "model/tokenizer/gpt2_tokenizer.h"
#include "server/instance_groups.h"
#include "server/model_repository.h"

namespace fxserve::server {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     const std::string& what) {
  std::ifstream file(path);
  if (!file) {
    return absl::NotFoundError(absl::StrCat("cannot read ", what, " ", path));
  }
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// The folder with GPT-2's tokenizer files for a model.
std::string TokenizerDir(const ServerOptions& options,
                         const std::string& artifact_dir) {
  if (!options.tokenizer_dir.empty()) return options.tokenizer_dir;
  for (const char* name : {"/vocab.json", "/encoder.json"}) {
    if (std::ifstream(artifact_dir + name)) return artifact_dir;
  }
  const char* env = std::getenv("FXSERVE_TOKENIZER_DIR");
  return env != nullptr ? env : FXSERVE_GPT2_TOKENIZER_DIR;
}

absl::Status Prefixed(const absl::Status& status, const std::string& prefix) {
  return absl::Status(status.code(),
                      absl::StrCat(prefix, ": ", status.message()));
}

// The model's backend. With fallback "cpu" and the fpga backend: the CPU
// backend when the fpga one cannot be opened (reason says why, and the log
// says so), else the fpga one with a CPU standby that takes over its
// sequences if the device fails while serving, and a fresh fpga backend
// retried in the background (events: the failover callbacks).
absl::StatusOr<std::unique_ptr<backends::Backend>> CreateBackendWithFallback(
    const std::string& name, const model::QuantizedGpt2& weights,
    const backends::BackendOptions& options, const std::string& fallback,
    const std::string& model_name, std::string& reason,
    backends::FailoverOptions events) {
  absl::StatusOr<std::unique_ptr<backends::Backend>> backend =
      backends::CreateBackend(name, weights, options);
  if (name != "fpga" || fallback != "cpu") return backend;
  if (backend.ok()) {
    absl::StatusOr<std::unique_ptr<backends::Backend>> standby =
        backends::CreateBackend("cpu", weights, options);
    if (!standby.ok()) return standby.status();
    // The retry thread may outlive the repository's copy of the weights.
    auto kept = std::make_shared<const model::QuantizedGpt2>(weights);
    events.reopen_primary = [kept, options] {
      return backends::CreateBackend("fpga", *kept, options);
    };
    return backends::MakeFailoverBackend(
        *std::move(backend), *std::move(standby), std::move(events));
  }
  reason = std::string(backend.status().message());
  std::fprintf(stderr,
               "fxserve: %s: the fpga backend is unavailable (%s); serving "
               "on the cpu backend instead (--fallback=cpu)\n",
               model_name.c_str(), reason.c_str());
  return backends::CreateBackend("cpu", weights, options);
}

// The metric families of device state, registered once per server.
struct DeviceMetrics {
  Family<Gauge>& fallbacks;
  Family<Counter>& failovers;
  Family<Counter>& recoveries;
  Family<Gauge>& device_healthy;
};

DeviceMetrics AddDeviceMetrics(MetricsRegistry& metrics) {
  return DeviceMetrics{
      .fallbacks = metrics.AddGauge(
          "fxserve_backend_fallback",
          "1 for a model instance served on another backend than "
          "configured, because that one could not be opened (--fallback).",
          {"model", "model_instance", "configured", "serving"}),
      .failovers = metrics.AddCounter(
          "fxserve_backend_failovers_total",
          "Times a model instance's device failed while serving and its "
          "sequences moved to the standby backend (--fallback).",
          {"model", "model_instance", "from", "to", "fault"}),
      .recoveries = metrics.AddCounter(
          "fxserve_backend_recoveries_total",
          "Times a failed FPGA answered a retry and took its instance's "
          "sequences back.",
          {"model", "model_instance"}),
      .device_healthy = metrics.AddGauge(
          "fxserve_fpga_device_healthy",
          "1 while a model instance's FPGA device serves, 0 once it failed.",
          {"model", "model_instance"})};
}

// Log lines and metrics for an instance's failovers and recoveries.
backends::FailoverOptions FailoverEvents(const std::string& model_name,
                                         const std::string& instance,
                                         const DeviceMetrics& metrics) {
  backends::FailoverOptions events;
  events.on_failover = [metrics, model_name,
                        instance](const absl::Status& fault) {
    std::fprintf(stderr,
                 "fxserve: %s (%s): the FPGA failed while serving (%s); its "
                 "sequences continue on the cpu backend, the FPGA is retried\n",
                 model_name.c_str(), instance.c_str(),
                 fault.ToString().c_str());
    metrics.failovers
        .With({model_name, instance, "fpga", "cpu",
               backends::DeviceFaultKind(fault)})
        .Increment();
    metrics.device_healthy.With({model_name, instance}).Set(0);
  };
  events.on_recovery = [metrics, model_name, instance] {
    std::fprintf(stderr,
                 "fxserve: %s (%s): the FPGA answers again; its sequences "
                 "moved back to it\n",
                 model_name.c_str(), instance.c_str());
    metrics.recoveries.With({model_name, instance}).Increment();
    metrics.device_healthy.With({model_name, instance}).Set(1);
  };
  return events;
}

// GPT-2 tokenizers by folder: models that share one share it.
class TokenizerCache {
 public:
  absl::StatusOr<std::shared_ptr<const model::Gpt2Tokenizer>> Get(
      const std::string& dir) {
    std::shared_ptr<const model::Gpt2Tokenizer>& tokenizer = loaded_[dir];
    if (tokenizer == nullptr) {
      absl::StatusOr<std::unique_ptr<model::Gpt2Tokenizer>> fresh =
          model::Gpt2Tokenizer::LoadFromDir(dir);
      if (!fresh.ok()) return fresh.status();
      tokenizer = *std::move(fresh);
    }
    return tokenizer;
  }

 private:
  std::map<std::string, std::shared_ptr<const model::Gpt2Tokenizer>> loaded_;
};

// The engine options of a model: its config, else the server's flags.
llm::LlmEngineOptions EngineOptions(const config::ModelConfig& config,
                                    const ServerOptions& options) {
  const config::QueuePolicy& queue = config.queue_policy();
  return llm::LlmEngineOptions{
      .model_name = config.name(),
      .default_max_tokens = config.llm().default_max_tokens() > 0
                                ? config.llm().default_max_tokens()
                                : options.default_max_tokens,
      .max_queue_size = queue.max_queue_size() > 0 ? queue.max_queue_size()
                                                   : options.max_queue_size,
      .queue_timeout =
          absl::Milliseconds(static_cast<int64_t>(queue.queue_timeout_ms())),
      .priority_levels = std::max(1, queue.priority_levels()),
      .default_priority = queue.default_priority(),
      .max_prefill_tokens_per_step =
          config.llm().max_prefill_tokens_per_step() > 0
              ? config.llm().max_prefill_tokens_per_step()
              : 256};
}

// One instance's engine on its backend (with the --fallback handling).
absl::StatusOr<std::unique_ptr<llm::LlmEngine>> CreateInstanceEngine(
    const RepositoryModel& entry, const InstanceSpec& spec,
    const model::QuantizedGpt2& weights,
    std::shared_ptr<const model::Gpt2Tokenizer> tokenizer,
    const ServerOptions& options, llm::LlmMetricFamilies& llm_metrics,
    const DeviceMetrics& device_metrics, std::string& fallback_reason) {
  const config::ModelConfig& config = entry.config;
  const backends::BackendOptions backend_options{
      .threads = options.threads,
      .max_batch =
          config.max_batch() > 0 ? config.max_batch() : options.max_batch,
      .kv_block_tokens = options.kv_block_tokens,
      .kv_blocks = options.kv_cache_blocks,
      .xclbin = options.xclbin,
      .xclbin_dir = options.xclbin_dir,
      .fpga_device = std::max(0, spec.device),
      .fpga_run_timeout_ms = options.fpga_run_timeout_ms,
      .own_process =
          spec.backend == "fpga" && options.fpga_isolation == "process",
      .artifact_dir = entry.artifact_dir};
  const std::string who = absl::StrCat(config.name(), " (", spec.name, ")");
  absl::StatusOr<std::unique_ptr<backends::Backend>> backend =
      CreateBackendWithFallback(
          spec.backend, weights, backend_options, options.fallback, who,
          fallback_reason,
          FailoverEvents(config.name(), spec.name, device_metrics));
  if (!backend.ok()) return backend.status();
  const std::string backend_name = (*backend)->capabilities().name;
  absl::StatusOr<std::unique_ptr<llm::LlmEngine>> engine =
      llm::LlmEngine::Create(
          EngineOptions(config, options), *std::move(backend),
          std::move(tokenizer),
          llm_metrics.ForInstance(config.name(), backend_name, spec.name));
  if (!engine.ok()) return engine.status();
  if (!fallback_reason.empty()) {
    device_metrics.fallbacks
        .With({config.name(), spec.name, spec.backend, backend_name})
        .Set(1);
  }
  if (backend_name == "fpga") {
    device_metrics.device_healthy.With({config.name(), spec.name}).Set(1);
  }
  const backends::BackendCapabilities& caps = (*engine)->capabilities();
  const std::string device =
      caps.name == "fpga" ? absl::StrCat(" device ", spec.device) : "";
  std::fprintf(stderr,
               "fxserve: %s ready: backend %s%s (%s), context %d, max batch "
               "%d, KV cache %d blocks x %d tokens\n",
               who.c_str(), caps.name.c_str(), device.c_str(),
               caps.detail.c_str(), caps.max_context, caps.max_batch,
               caps.kv_blocks, caps.kv_block_tokens);
  return engine;
}

// A model with every instance of its config, ready to serve.
absl::StatusOr<std::unique_ptr<ServedModel>> LoadModel(
    const RepositoryModel& entry, const ServerOptions& options,
    llm::LlmMetricFamilies& llm_metrics, const DeviceMetrics& device_metrics,
    TokenizerCache& tokenizers) {
  const config::ModelConfig& config = entry.config;
  const std::string where = absl::StrCat("model ", config.name());
  if (config.kind() != config::LLM) {
    return absl::UnimplementedError(absl::StrCat(
        where, " (", entry.folder,
        "): detection models are not served yet; only kind: LLM is"));
  }
  absl::StatusOr<std::vector<InstanceSpec>> specs =
      ResolveInstances(config, options.backend, options.fpga_device);
  if (!specs.ok()) {
    return Prefixed(specs.status(), absl::StrCat(where, " (", entry.folder, "/",
                                                 kModelConfigFile, ")"));
  }
  if (!model::IsQuantizedArtifact(entry.artifact_dir)) {
    return absl::NotFoundError(absl::StrCat(
        where, ": ", entry.artifact_dir, " has no ", model::kArtifactFileName,
        "; make one with `fxtool quantize --out ", entry.artifact_dir,
        "` (tools/run.sh does this for the shipped model)"));
  }
  std::fprintf(stderr, "fxserve: loading %s from %s on %zu instance%s...\n",
               config.name().c_str(), entry.artifact_dir.c_str(), specs->size(),
               specs->size() == 1 ? "" : "s");
  absl::StatusOr<model::QuantizedGpt2> weights =
      model::LoadQuantizedGpt2(entry.artifact_dir);
  if (!weights.ok()) return Prefixed(weights.status(), where);
  absl::StatusOr<std::shared_ptr<const model::Gpt2Tokenizer>> tokenizer =
      tokenizers.Get(TokenizerDir(options, entry.artifact_dir));
  if (!tokenizer.ok()) return Prefixed(tokenizer.status(), where);

  auto served = std::make_unique<ServedModel>();
  served->repository = entry;
  served->name = config.name();
  served->version = absl::StrCat(config.version() > 0 ? config.version() : 1);
  std::vector<llm::LlmInstance> instances;
  for (const InstanceSpec& spec : *specs) {
    std::string fallback_reason;
    absl::StatusOr<std::unique_ptr<llm::LlmEngine>> engine =
        CreateInstanceEngine(entry, spec, *weights, *tokenizer, options,
                             llm_metrics, device_metrics, fallback_reason);
    if (!engine.ok()) {
      return Prefixed(engine.status(),
                      specs->size() == 1
                          ? where
                          : absl::StrCat(where, " instance ", spec.name));
    }
    if (!fallback_reason.empty()) {
      if (!served->fallback_reason.empty()) served->fallback_reason += "; ";
      served->fallback_reason +=
          specs->size() == 1 ? fallback_reason
                             : absl::StrCat(spec.name, ": ", fallback_reason);
    }
    const std::string backend = (*engine)->capabilities().name;
    instances.push_back({.name = spec.name,
                         .backend = backend,
                         .device = backend == "fpga" ? spec.device : -1,
                         .engine = *std::move(engine)});
  }
  served->backend = instances.front().backend;
  absl::StatusOr<std::unique_ptr<llm::LlmInstances>> dispatcher =
      llm::LlmInstances::Create(std::move(instances));
  if (!dispatcher.ok()) return Prefixed(dispatcher.status(), where);
  served->instances = *std::move(dispatcher);
  return served;
}

}  // namespace

absl::Status ServerOptions::Validate() const {
  if (model_repository.empty()) {
    return absl::InvalidArgumentError("--model-repository is empty");
  }
  for (const auto& [name, port, allow_off] :
       {std::tuple<const char*, int, bool>{"--grpc-port", grpc_port, false},
        {"--http-port", http_port, true},
        {"--metrics-port", metrics_port, true}}) {
    if (port > 65535 || port < (allow_off ? -1 : 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " ", port, " is not a port (0 picks a free one",
                       allow_off ? ", -1 turns the listener off)" : ")"));
    }
  }
  if (threads < 0) return absl::InvalidArgumentError("--threads must be >= 0");
  if (max_batch < 1) {
    return absl::InvalidArgumentError("--max-batch must be >= 1");
  }
  if (kv_cache_blocks < 0) {
    return absl::InvalidArgumentError("--kv-cache-blocks must be >= 0");
  }
  if (max_queue_size < 0) {
    return absl::InvalidArgumentError("--max-queue-size must be >= 0");
  }
  if (default_max_tokens < 0) {
    return absl::InvalidArgumentError("--default-max-tokens must be >= 0");
  }
  if (fallback != "none" && fallback != "cpu") {
    return absl::InvalidArgumentError(
        absl::StrCat("--fallback=", fallback, ": choose none or cpu"));
  }
  if (fpga_isolation != "process" && fpga_isolation != "none") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--fpga-isolation=", fpga_isolation, ": choose process or none"));
  }
  if (fpga_run_timeout_ms < 1) {
    return absl::InvalidArgumentError("--fpga-run-timeout-ms must be >= 1");
  }
  if (tls_cert_file.empty() != tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both --tls-cert and --tls-key (or neither)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FxServer>> FxServer::Start(
    const ServerOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  std::unique_ptr<FxServer> server(new FxServer());
  std::string token;
  if (!options.auth_token_file.empty()) {
    absl::StatusOr<std::string> text =
        ReadFile(options.auth_token_file, "--auth-token-file");
    if (!text.ok()) return text.status();
    token = std::string(absl::StripAsciiWhitespace(*text));
    if (token.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--auth-token-file ", options.auth_token_file, " is empty"));
    }
  }
  if (absl::Status s = server->LoadModels(options); !s.ok()) return s;
  server->services_ =
      std::make_unique<ServiceContext>(server->models_, token, FXSERVE_VERSION);
  if (absl::Status s = server->StartGrpc(options); !s.ok()) return s;
  if (absl::Status s = server->StartHttp(options); !s.ok()) return s;
  server->services_->set_ready(true);
  return server;
}

absl::Status FxServer::LoadModels(const ServerOptions& options) {
  absl::StatusOr<std::vector<RepositoryModel>> repository =
      ScanModelRepository(options.model_repository);
  if (!repository.ok()) return repository.status();
  llm_metrics_ = std::make_unique<llm::LlmMetricFamilies>(metrics_);
  const DeviceMetrics device_metrics = AddDeviceMetrics(metrics_);
  TokenizerCache tokenizers;
  for (RepositoryModel& entry : *repository) {
    absl::StatusOr<std::unique_ptr<ServedModel>> served =
        LoadModel(entry, options, *llm_metrics_, device_metrics, tokenizers);
    if (!served.ok()) return served.status();
    const std::string name = (*served)->name;
    models_.emplace(name, *std::move(served));
  }
  return absl::OkStatus();
}

absl::Status FxServer::StartGrpc(const ServerOptions& options) {
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::InsecureServerCredentials();
  if (!options.tls_cert_file.empty()) {
    absl::StatusOr<std::string> cert =
        ReadFile(options.tls_cert_file, "--tls-cert");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key =
        ReadFile(options.tls_key_file, "--tls-key");
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    credentials = grpc::SslServerCredentials(ssl);
  }
  inference_service_ = std::make_unique<InferenceService>(*services_);
  health_service_ = std::make_unique<HealthService>(*services_);
  const std::string address =
      absl::StrCat(options.bind_address, ":", options.grpc_port);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, credentials, &grpc_port_);
  builder.RegisterService(inference_service_.get());
  builder.RegisterService(health_service_.get());
  // Prompts are small, but leave room for long ones and batched clients.
  builder.SetMaxReceiveMessageSize(64 << 20);
  grpc_server_ = builder.BuildAndStart();
  if (grpc_server_ == nullptr || grpc_port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen for gRPC on ", address,
                     " (port in use or address not local?); pick another with "
                     "--grpc-port or --bind"));
  }
  std::fprintf(stderr, "fxserve: gRPC (KServe v2) listening on %s:%d%s\n",
               options.bind_address.c_str(), grpc_port_,
               options.tls_cert_file.empty() ? "" : " (TLS)");
  return absl::OkStatus();
}

absl::Status FxServer::StartHttp(const ServerOptions& options) {
  const HttpHandlers handlers{
      .live = [] { return true; },
      .ready = [this] { return services_->ready(); },
      .metrics_text = [this] { return metrics_.ExpositionText(); }};
  if (options.http_port >= 0) {
    absl::StatusOr<std::unique_ptr<HttpEndpoints>> http =
        HttpEndpoints::Start(options.bind_address, options.http_port,
                             /*health_routes=*/true, handlers);
    if (!http.ok()) return Prefixed(http.status(), "--http-port");
    http_ = *std::move(http);
    std::fprintf(stderr,
                 "fxserve: HTTP (/v2/health/live, /v2/health/ready, "
                 "/metrics) listening on %s:%d\n",
                 options.bind_address.c_str(), http_->port());
  }
  if (options.metrics_port >= 0) {
    absl::StatusOr<std::unique_ptr<HttpEndpoints>> metrics =
        HttpEndpoints::Start(options.bind_address, options.metrics_port,
                             /*health_routes=*/false, handlers);
    if (!metrics.ok()) return Prefixed(metrics.status(), "--metrics-port");
    metrics_http_ = *std::move(metrics);
    std::fprintf(stderr, "fxserve: metrics (/metrics) listening on %s:%d\n",
                 options.bind_address.c_str(), metrics_http_->port());
  }
  return absl::OkStatus();
}

int FxServer::http_port() const { return http_ ? http_->port() : -1; }

int FxServer::metrics_port() const {
  return metrics_http_ ? metrics_http_->port() : -1;
}

void FxServer::Wait() { grpc_server_->Wait(); }

int FxServer::Drain(absl::Duration timeout) {
  services_->set_ready(false);
  const absl::Time deadline = absl::Now() + timeout;
  int cancelled = 0;
  for (auto& [name, model] : models_) {
    cancelled += model->instances->Drain(
        std::max(absl::ZeroDuration(), deadline - absl::Now()));
  }
  std::fprintf(
      stderr, "fxserve: requests drained after %s; closing\n",
      absl::FormatDuration(absl::Now() - (deadline - timeout)).c_str());
  // Open calls have had their last response queued; give them a moment
  // to be written, then close.
  grpc_server_->Shutdown(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
  std::fprintf(
      stderr, "fxserve: gRPC closed after %s\n",
      absl::FormatDuration(absl::Now() - (deadline - timeout)).c_str());
  if (http_) http_->Stop();
  if (metrics_http_) metrics_http_->Stop();
  return cancelled;
}

FxServer::~FxServer() {
  if (grpc_server_) grpc_server_->Shutdown();
  if (http_) http_->Stop();
  if (metrics_http_) metrics_http_->Stop();
  models_.clear();  // Engines stop before the metrics they update.
}

}  // namespace fxserve::server
