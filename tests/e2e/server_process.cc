#include "tests/e2e/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace fxserve::testing {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// Forks and execs argv with stdout/stderr to files; returns the pid.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path,
            const std::string& err_path) {
  std::vector<char*> args;
  for (const std::string& arg : argv)
    args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    // The test may block signals in its threads; the child starts clean.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

std::string DefaultRepository() { return FXSERVE_TEST_REPOSITORY; }

std::string TinyArtifact() {
  return absl::StrCat(FXSERVE_TEST_REPOSITORY, "/tiny-gpt2/w8a8");
}

std::string MakeTempDir() {
  std::string pattern = "/tmp/fxserve-e2e.XXXXXX";
  const char* dir = mkdtemp(pattern.data());
  return dir != nullptr ? dir : "/tmp";
}

std::string MakeRepository(const std::string& extra_config) {
  const std::string repository = MakeTempDir();
  const std::string folder = repository + "/tiny-gpt2";
  mkdir(folder.c_str(), 0755);
  std::ofstream(folder + "/config.pbtxt")
      << "name: \"tiny-gpt2\"\nkind: LLM\nartifact: \"" << TinyArtifact()
      << "\"\n"
      << extra_config << "\n";
  return repository;
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::vector<std::string>& args) {
  std::unique_ptr<ServerProcess> server(new ServerProcess());
  const std::string dir = MakeTempDir();
  const std::string ports_file = dir + "/ports.json";
  server->log_path_ = dir + "/fxserve.log";
  std::vector<std::string> argv = {FXSERVE_BINARY,
                                   "--bind=127.0.0.1",
                                   "--grpc-port=0",
                                   "--http-port=0",
                                   "--metrics-port=0",
                                   "--threads=1",
                                   "--ports-file=" + ports_file};
  bool has_repository = false;
  for (const std::string& arg : args) {
    if (arg.rfind("--model-repository", 0) == 0) has_repository = true;
  }
  if (!has_repository) {
    argv.push_back("--model-repository=" + DefaultRepository());
  }
  argv.insert(argv.end(), args.begin(), args.end());
  server->pid_ = Spawn(argv, server->log_path_, server->log_path_ + ".err");
  // Both streams in one log: stdout is empty for the server anyway.
  server->log_path_ += ".err";

  const absl::Time give_up = absl::Now() + absl::Seconds(180);
  while (absl::Now() < give_up) {
    int status = 0;
    if (waitpid(server->pid_, &status, WNOHANG) == server->pid_) {
      server->exited_ = true;
      return absl::FailedPreconditionError(
          absl::StrCat("fxserve exited with status ", WEXITSTATUS(status),
                       " before serving; its log:\n", server->Log()));
    }
    const std::string text = ReadAll(ports_file);
    if (!text.empty()) {
      const nlohmann::json ports = nlohmann::json::parse(text, nullptr, false);
      if (!ports.is_discarded()) {
        server->grpc_port_ = ports.at("grpc").get<int>();
        server->http_port_ = ports.at("http").get<int>();
        server->metrics_port_ = ports.at("metrics").get<int>();
        return server;
      }
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "fxserve did not start in 180 s; its log:\n", server->Log()));
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

std::string ServerProcess::grpc_url() const {
  return absl::StrCat("127.0.0.1:", grpc_port_);
}

std::string ServerProcess::Log() const { return ReadAll(log_path_); }

void ServerProcess::SendSignal(int signal) { kill(pid_, signal); }

absl::StatusOr<int> ServerProcess::WaitForExit(absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  while (absl::Now() < give_up) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return WEXITSTATUS(status);
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError("fxserve did not exit in time");
}

absl::StatusOr<std::string> ServerProcess::HttpGet(
    int port, const std::string& path) const {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(120, 0);  // A hang guard: scrapes under load.
  httplib::Result result = client.Get(path.c_str());
  if (!result) {
    return absl::UnavailableError(
        absl::StrCat("GET ", path, " on port ", port,
                     " failed: ", httplib::to_string(result.error())));
  }
  if (result->status != 200) {
    return absl::InternalError(
        absl::StrCat("GET ", path, ": HTTP ", result->status));
  }
  return result->body;
}

absl::StatusOr<double> ServerProcess::MetricValue(
    const std::string& sample) const {
  absl::StatusOr<std::string> text = HttpGet(metrics_port_, "/metrics");
  if (!text.ok()) return text.status();
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(sample + " ", 0) == 0) {
      double value = 0;
      if (absl::SimpleAtod(line.substr(sample.size() + 1), &value)) {
        return value;
      }
    }
  }
  return absl::NotFoundError(
      absl::StrCat("no sample ", sample, " in /metrics"));
}

CommandResult RunCommand(const std::vector<std::string>& argv) {
  const std::string dir = MakeTempDir();
  const pid_t pid = Spawn(argv, dir + "/out", dir + "/err");
  int status = 0;
  waitpid(pid, &status, 0);
  return {.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1,
          .out = ReadAll(dir + "/out"),
          .err = ReadAll(dir + "/err")};
}

}  // namespace fxserve::testing
