// Runs the real fxserve binary for end-to-end tests: on 127.0.0.1, every
// port picked free at start (port 0 + --ports-file), its log kept for
// failure messages; SIGTERM and exit status for shutdown tests.
#ifndef FXSERVE_TESTS_E2E_SERVER_PROCESS_H_
#define FXSERVE_TESTS_E2E_SERVER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fxserve::testing {

// The build's default repository (the quantized tiny GPT-2).
std::string DefaultRepository();
// The quantized tiny GPT-2 artifact folder in it.
std::string TinyArtifact();
// A fresh temporary folder (removed by the OS's tmp cleaning, not here).
std::string MakeTempDir();
// A repository with one model "tiny-gpt2" using TinyArtifact() and
// `extra_config` appended to its config.pbtxt.
std::string MakeRepository(const std::string& extra_config);

class ServerProcess {
 public:
  // Starts fxserve with `args` after the test defaults and waits until it
  // serves (or exits, which is an error carrying its log).
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::vector<std::string>& args);
  ~ServerProcess();  // SIGKILL if still running.

  int grpc_port() const { return grpc_port_; }
  int http_port() const { return http_port_; }
  int metrics_port() const { return metrics_port_; }
  std::string grpc_url() const;
  std::string Log() const;

  pid_t pid() const { return pid_; }
  void SendSignal(int signal);
  // Waits for the process to exit; its exit status, or an error on timeout.
  absl::StatusOr<int> WaitForExit(absl::Duration timeout);

  // GET of http://127.0.0.1:<metrics port><path>; the body.
  absl::StatusOr<std::string> HttpGet(int port, const std::string& path) const;
  // One sample's value from the metrics port's /metrics, e.g.
  // "fxserve_kv_cache_blocks_used{model=\"tiny-gpt2\",backend=\"cpu\",model_instance=\"cpu_0\"}".
  absl::StatusOr<double> MetricValue(const std::string& sample) const;

 private:
  ServerProcess() = default;

  pid_t pid_ = -1;
  bool exited_ = false;
  std::string log_path_;
  int grpc_port_ = 0;
  int http_port_ = 0;
  int metrics_port_ = 0;
};

// Runs a command, returns {exit status, stdout}; stderr goes to `err`.
struct CommandResult {
  int status = -1;
  std::string out;
  std::string err;
};
CommandResult RunCommand(const std::vector<std::string>& argv);

}  // namespace fxserve::testing

#endif  // FXSERVE_TESTS_E2E_SERVER_PROCESS_H_
