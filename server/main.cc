// fxserve: the inference server. Flags become ServerOptions; SIGTERM or
// SIGINT drains in-flight requests, then the process exits.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "backends/fpga/emulation/fpga_emulation.h"
#include "server/fxserve_server.h"
#include "server/instance_groups.h"
#include "server/model_repository.h"

ABSL_FLAG(std::string, model_repository, FXSERVE_DEFAULT_MODEL_REPOSITORY,
          "Model repository: one folder per model with a config.pbtxt.");
ABSL_FLAG(std::string, backend, "cpu",
          "Backend for models whose config names none: cpu (bit-exact "
          "integer emulation), csim (HLS C-simulation, slow), fpga.");
ABSL_FLAG(bool, fpga_emulation, false,
          "fpga backend: run on fxserve's emulated card through XRT's "
          "software emulation (no card needed; slow: a C-simulation).");
ABSL_FLAG(int, fpga_emulation_devices, 0,
          "--fpga-emulation: cards to emulate; 0 = as many as the model "
          "repository's instance groups name (at least 1).");
ABSL_FLAG(std::string, xclbin, "",
          "fpga backend: the xclbin to load (default with --fpga-emulation: "
          "the build's xclbin for each model's kernel build).");
ABSL_FLAG(int, fpga_device, 0, "fpga backend: XRT device index.");
ABSL_FLAG(int, fpga_run_timeout_ms, 120000,
          "fpga backend: a kernel run taking longer fails the device.");
ABSL_FLAG(std::string, fpga_isolation, "process",
          "fpga backend: process (drive each card from a child process, so "
          "that a hung or dead device is recovered by a fresh one) or none "
          "(in the server process).");
ABSL_FLAG(std::string, fallback, "none",
          "none, or cpu: serve a model on the CPU backend (bit-identical) "
          "when its fpga backend cannot be opened.");
ABSL_FLAG(std::string, bind, "0.0.0.0", "Address every listener binds to.");
ABSL_FLAG(int, grpc_port, 8001, "gRPC (KServe v2) port; 0 picks a free one.");
ABSL_FLAG(int, http_port, 8000,
          "HTTP port (/v2/health/live, /v2/health/ready, /metrics); 0 picks "
          "a free one, -1 turns it off.");
ABSL_FLAG(int, metrics_port, 8002,
          "Prometheus /metrics port; 0 picks a free one, -1 turns it off.");
ABSL_FLAG(int, threads, 0,
          "Backend worker threads per model; 0 = one per core.");
ABSL_FLAG(int, max_batch, 32,
          "Sequences per step, for models whose config sets no max_batch.");
ABSL_FLAG(int, kv_cache_blocks, 0,
          "KV cache blocks per model; 0 = room for max-batch full contexts.");
ABSL_FLAG(int, kv_block_tokens, 16, "Positions per KV cache block.");
ABSL_FLAG(int, max_queue_size, 256,
          "Waiting requests per model (more get RESOURCE_EXHAUSTED), for "
          "models whose config sets none.");
ABSL_FLAG(int, default_max_tokens, 64,
          "Tokens generated when a request sets no max_tokens, for models "
          "whose config sets none.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain: serve gRPC over TLS.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls-cert.");
ABSL_FLAG(std::string, auth_token_file, "",
          "File holding a bearer token; calls without 'authorization: Bearer "
          "<token>' get UNAUTHENTICATED.");
ABSL_FLAG(std::string, tokenizer_dir, "",
          "Folder with GPT-2's encoder.json + vocab.bpe (or vocab.json + "
          "merges.txt); default: the model's folder, else the build's copy.");
ABSL_FLAG(int, drain_timeout_s, 30,
          "On SIGTERM, seconds to let in-flight requests finish before "
          "cancelling them.");
ABSL_FLAG(std::string, ports_file, "",
          "Write the bound ports as JSON here once serving (for scripts and "
          "tests using port 0).");

namespace {

// absl wants --max_batch; users type --max-batch as in most servers.
std::vector<char*> NormalizeFlagNames(int argc, char** argv,
                                      std::vector<std::string>& storage) {
  storage.assign(argv, argv + argc);
  for (size_t i = 1; i < storage.size(); ++i) {
    std::string& arg = storage[i];
    if (arg == "--") break;
    if (arg.rfind("--", 0) != 0) continue;
    const size_t end = std::min(arg.find('='), arg.size());
    for (size_t j = 2; j < end; ++j) {
      if (arg[j] == '-') arg[j] = '_';
    }
  }
  std::vector<char*> pointers;
  for (std::string& arg : storage) pointers.push_back(arg.data());
  return pointers;
}

// --fpga-emulation-devices, or enough for the repository's fpga instances
// (a repository that does not load fails later, with its own message).
int EmulatedDevices() {
  const int devices = absl::GetFlag(FLAGS_fpga_emulation_devices);
  if (devices > 0) return devices;
  auto models = fxserve::server::ScanModelRepository(
      absl::GetFlag(FLAGS_model_repository));
  if (!models.ok()) return 1;
  return fxserve::server::FpgaDevicesNeeded(
      *models, absl::GetFlag(FLAGS_backend), absl::GetFlag(FLAGS_fpga_device));
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "KServe v2 / Triton gRPC inference server for quantized models.\n"
      "  fxserve [--model-repository DIR] [--backend cpu|csim|fpga] "
      "[--grpc-port 8001] [--http-port 8000] [--metrics-port 8002] ...\n"
      "Flags take dashes or underscores. Docs: server/README.md.");
  absl::FlagsUsageConfig usage;
  // --help lists this file's flags (absl's default looks for a file named
  // after the binary).
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "server/main.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  usage.version_string = [] {
    return std::string("fxserve " FXSERVE_VERSION "\n");
  };
  absl::SetFlagsUsageConfig(usage);
  std::vector<std::string> storage;
  std::vector<char*> args = NormalizeFlagNames(argc, argv, storage);
  std::vector<char*> rest =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  if (rest.size() > 1) {
    std::fprintf(stderr, "fxserve: unexpected argument '%s' (see --help)\n",
                 rest[1]);
    return 2;
  }

  // Before any thread exists: it may re-execute the process.
  std::string xclbin_dir;
  if (absl::GetFlag(FLAGS_fpga_emulation)) {
    auto kit = fxserve::backends::fpga::StartFpgaEmulation(
        argv, {.devices = EmulatedDevices()});
    if (!kit.ok()) {
      std::fprintf(stderr, "fxserve: --fpga-emulation: %s\n",
                   kit.status().ToString().c_str());
      return 1;
    }
    xclbin_dir = *kit;
  }

  // Block the stop signals in every thread (gRPC's start after this) and
  // take them synchronously below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const fxserve::server::ServerOptions options{
      .model_repository = absl::GetFlag(FLAGS_model_repository),
      .backend = absl::GetFlag(FLAGS_backend),
      .bind_address = absl::GetFlag(FLAGS_bind),
      .grpc_port = absl::GetFlag(FLAGS_grpc_port),
      .http_port = absl::GetFlag(FLAGS_http_port),
      .metrics_port = absl::GetFlag(FLAGS_metrics_port),
      .threads = absl::GetFlag(FLAGS_threads),
      .max_batch = absl::GetFlag(FLAGS_max_batch),
      .kv_cache_blocks = absl::GetFlag(FLAGS_kv_cache_blocks),
      .kv_block_tokens = absl::GetFlag(FLAGS_kv_block_tokens),
      .max_queue_size = absl::GetFlag(FLAGS_max_queue_size),
      .default_max_tokens = absl::GetFlag(FLAGS_default_max_tokens),
      .tls_cert_file = absl::GetFlag(FLAGS_tls_cert),
      .tls_key_file = absl::GetFlag(FLAGS_tls_key),
      .auth_token_file = absl::GetFlag(FLAGS_auth_token_file),
      .tokenizer_dir = absl::GetFlag(FLAGS_tokenizer_dir),
      .xclbin = absl::GetFlag(FLAGS_xclbin),
      .xclbin_dir = xclbin_dir,
      .fpga_device = absl::GetFlag(FLAGS_fpga_device),
      .fpga_run_timeout_ms = absl::GetFlag(FLAGS_fpga_run_timeout_ms),
      .fpga_isolation = absl::GetFlag(FLAGS_fpga_isolation),
      .fallback = absl::GetFlag(FLAGS_fallback)};
  auto server = fxserve::server::FxServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "fxserve: %s\n", server.status().ToString().c_str());
    return 1;
  }
  const std::string ports_file = absl::GetFlag(FLAGS_ports_file);
  if (!ports_file.empty()) {
    const std::string temp = ports_file + ".tmp";
    std::ofstream(temp) << absl::StrCat(
        "{\"grpc\": ", (*server)->grpc_port(),
        ", \"http\": ", (*server)->http_port(),
        ", \"metrics\": ", (*server)->metrics_port(), "}\n");
    std::rename(temp.c_str(), ports_file.c_str());  // Appears whole.
  }
  std::fprintf(stderr, "fxserve: ready (SIGTERM or Ctrl-C drains and stops)\n");

  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::fprintf(stderr,
               "fxserve: %s: draining in-flight requests (up to %d s)\n",
               signal == SIGTERM ? "SIGTERM" : "SIGINT",
               absl::GetFlag(FLAGS_drain_timeout_s));
  const int cancelled =
      (*server)->Drain(absl::Seconds(absl::GetFlag(FLAGS_drain_timeout_s)));
  std::fprintf(stderr,
               "fxserve: stopped (%d requests cancelled at the "
               "drain timeout)\n",
               cancelled);
  return 0;
}
