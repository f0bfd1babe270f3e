// fxserve end to end on the fpga backend: `--backend fpga --fpga-emulation`
// serves stream and unary requests, several at once, with the same text as
// `--backend cpu`, also spread over several instances (instance_group);
// without a device it fails at once with a message naming
// what was tried; with --fallback=cpu it serves on the CPU backend and says
// so in the log, the model config and the metrics.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/cpp/inference_client.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_client.h"
#include "tests/e2e/server_process.h"

namespace fxserve::testing {
namespace {

using client::GenerateOptions;
using client::InferenceClient;

std::unique_ptr<InferenceClient> MakeClient(const ServerProcess& server) {
  auto client = InferenceClient::Create(UrlOptions(server.grpc_url()));
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

struct Request {
  std::string prompt;
  int max_tokens;
  uint64_t seed;
  bool stream;
};

// Sends every request at once (one thread each) and returns the texts.
std::vector<std::string> RunConcurrently(const ServerProcess& server,
                                         const std::vector<Request>& requests) {
  std::vector<std::string> texts(requests.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < requests.size(); ++i) {
    threads.emplace_back([&, i] {
      auto client = MakeClient(server);
      if (client == nullptr) return;
      GenerateOptions options;
      options.max_tokens = requests[i].max_tokens;
      options.seed = requests[i].seed;
      absl::StatusOr<std::string> text =
          requests[i].stream
              ? client->GenerateStream(requests[i].prompt, options,
                                       [](std::string_view) { return true; })
              : client->Generate(requests[i].prompt, options);
      texts[i] = text.ok() ? *text : "error: " + text.status().ToString();
    });
  }
  for (std::thread& t : threads) t.join();
  return texts;
}

// tiny-gpt2's ModelConfig RPC; false if it fails.
bool GetModelConfig(const ServerProcess& server,
                    inference::ModelConfigResponse& config) {
  auto stub = inference::GRPCInferenceService::NewStub(grpc::CreateChannel(
      server.grpc_url(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  inference::ModelConfigRequest request;
  request.set_name("tiny-gpt2");
  return stub->ModelConfig(&context, request, &config).ok();
}

std::vector<Request> MixedRequests() {
#ifdef FXSERVE_SANITIZED
  constexpr int kTokens = 6;  // The emulated card is a C-simulation.
#else
  constexpr int kTokens = 24;
#endif
  return {{"A man walks into a bar", kTokens, 1, true},
          {"Once upon a time", kTokens, 2, false},
          {"The quick brown fox", kTokens / 2, 3, true},
          {"In the beginning", kTokens, 4, false},
          {"Why", 3, 5, true}};
}

TEST(ServerFpgaTest, EmulatedCardServesTheCpuBackendsText) {
  auto fpga = ServerProcess::Start({"--backend=fpga", "--fpga-emulation"});
  ASSERT_TRUE(fpga.ok()) << fpga.status();
  auto cpu = ServerProcess::Start({"--backend=cpu"});
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_NE((*fpga)->Log().find("backend fpga"), std::string::npos)
      << (*fpga)->Log();
  const std::vector<Request> requests = MixedRequests();
  const std::vector<std::string> on_fpga = RunConcurrently(**fpga, requests);
  const std::vector<std::string> on_cpu = RunConcurrently(**cpu, requests);
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_FALSE(on_cpu[i].empty()) << requests[i].prompt;
    EXPECT_EQ(on_fpga[i], on_cpu[i]) << requests[i].prompt;
  }
  absl::StatusOr<double> steps = (*fpga)->MetricValue(
      "fxserve_backend_steps_total{model=\"tiny-gpt2\",backend=\"fpga\","
      "model_instance=\"fpga_0\"}");
  ASSERT_TRUE(steps.ok()) << steps.status();
  EXPECT_GT(*steps, 0);
}

// instance_group: two emulated cards and a CPU instance serve one model;
// requests spread over all three (the first three reach one each,
// whatever their timing), with the CPU backend's text, and every
// instance's metrics and its entry in the model config say where it runs.
TEST(ServerFpgaTest, InstanceGroupSpreadsRequestsOverCardsAndCpu) {
  const std::string repository = MakeRepository(
      "instance_group { kind: KIND_FPGA devices: [0, 1] }\n"
      "instance_group { kind: KIND_CPU }\n");
  auto served = ServerProcess::Start(
      {"--fpga-emulation", "--model-repository=" + repository});
  ASSERT_TRUE(served.ok()) << served.status();
  auto cpu = ServerProcess::Start({"--backend=cpu"});
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  const std::string log = (*served)->Log();
  for (const char* line : {"tiny-gpt2 (fpga_0) ready: backend fpga device 0",
                           "tiny-gpt2 (fpga_1) ready: backend fpga device 1",
                           "tiny-gpt2 (cpu_0) ready: backend cpu"}) {
    EXPECT_NE(log.find(line), std::string::npos) << line << "\n" << log;
  }
  const std::vector<Request> requests = MixedRequests();
  EXPECT_EQ(RunConcurrently(**served, requests),
            RunConcurrently(**cpu, requests));
  double total = 0;
  for (const auto& [backend, instance] :
       std::vector<std::pair<std::string, std::string>>{
           {"fpga", "fpga_0"}, {"fpga", "fpga_1"}, {"cpu", "cpu_0"}}) {
    absl::StatusOr<double> succeeded = (*served)->MetricValue(absl::StrCat(
        "fxserve_request_success_total{model=\"tiny-gpt2\",backend=\"", backend,
        "\",model_instance=\"", instance, "\"}"));
    ASSERT_TRUE(succeeded.ok()) << instance << ": " << succeeded.status();
    EXPECT_GE(*succeeded, 1) << instance;
    total += *succeeded;
  }
  EXPECT_EQ(total, requests.size());

  inference::ModelConfigResponse config;
  ASSERT_TRUE(GetModelConfig(**served, config));
  const auto& groups = config.config().instance_group();
  ASSERT_EQ(groups.size(), 3);
  EXPECT_EQ(groups[1].name(), "fpga_1");
  ASSERT_EQ(groups[1].gpus_size(), 1);
  EXPECT_EQ(groups[1].gpus(0), 1);
  EXPECT_EQ(groups[2].kind(), inference::ModelInstanceGroup::KIND_CPU);
}

// Live processes whose parent is `parent` (any if -1) and whose program
// ends in `name` (zombies count as gone).
std::vector<pid_t> ChildrenNamed(pid_t parent, const std::string& name) {
  std::vector<pid_t> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string id, comm, state;
    pid_t ppid = 0;
    if (!(stat >> id >> comm >> state >> ppid) || state == "Z") continue;
    if (parent > 0 && ppid != parent) continue;
    std::ifstream cmdline(entry.path() / "cmdline");
    std::string program;
    std::getline(cmdline, program, '\0');
    if (program.size() >= name.size() &&
        program.compare(program.size() - name.size(), name.size(), name) == 0) {
      found.push_back(std::stoi(pid));
    }
  }
  return found;
}

// True while any of `pids` runs (a zombie does not).
bool AnyAlive(const std::vector<pid_t>& pids) {
  for (pid_t pid : pids) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string id, comm, state;
    if (stat >> id >> comm >> state && state != "Z") return true;
  }
  return false;
}

// fxserve killed while its card worker is stuck in a device call (a hung
// run, with a 10-minute run timeout): the worker notices that its parent is
// gone and takes its process group, the emulated card too, with it.
TEST(ServerFpgaTest, AKilledServerLeavesNoCardWorkerBehind) {
  const std::string card_log = MakeTempDir() + "/card.log";
  setenv("FXSERVE_CARD_FAULT", "hang@1", 1);
  setenv("FXSERVE_CARD_LOG", card_log.c_str(), 1);
  auto server = ServerProcess::Start(
      {"--backend=fpga", "--fpga-emulation", "--fpga-run-timeout-ms=600000"});
  unsetenv("FXSERVE_CARD_FAULT");
  unsetenv("FXSERVE_CARD_LOG");
  ASSERT_TRUE(server.ok()) << server.status();
  std::vector<pid_t> group =
      ChildrenNamed((*server)->pid(), "fxserve-backend-worker");
  ASSERT_EQ(group.size(), 1u) << (*server)->Log();
  // XRT starts the card under the name of the Vitis model it stands for.
  for (pid_t card : ChildrenNamed(group[0], "genericpciemodel")) {
    if (getpgid(card) == group[0]) group.push_back(card);
  }
  EXPECT_EQ(group.size(), 2u) << "the worker and its card";
  std::thread request([&] {
    auto client = MakeClient(**server);
    if (client != nullptr) (void)client->Generate("Hello", GenerateOptions());
  });
  // Hang guards, not timings: the run hangs from the first AP_START on.
  const absl::Time give_up = absl::Now() + absl::Seconds(120);
  auto hung = [&] {
    std::ifstream log(card_log);
    std::stringstream text;
    text << log.rdbuf();
    return text.str().find("fault injection at AP_START") != std::string::npos;
  };
  while (!hung() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(hung()) << (*server)->Log();
  (*server)->SendSignal(SIGKILL);
  ASSERT_TRUE((*server)->WaitForExit(absl::Seconds(60)).ok());
  request.join();
  const absl::Time gone_by = absl::Now() + absl::Seconds(60);
  while (AnyAlive(group) && absl::Now() < gone_by) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_FALSE(AnyAlive(group));
}

TEST(ServerFpgaTest, NoDeviceFailsAtOnceNamingWhatWasTried) {
  const auto start = std::chrono::steady_clock::now();
  auto server = ServerProcess::Start({"--backend=fpga"});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  ASSERT_FALSE(server.ok());
  const std::string message(server.status().message());
  for (const char* named :
       {"device index 0", "XILINX_XRT", "XCL_EMULATION_MODE",
        "--fpga-emulation", "--fallback=cpu"}) {
    EXPECT_NE(message.find(named), std::string::npos) << named << "\n"
                                                      << message;
  }
  const CommandResult run = RunCommand(
      {FXSERVE_BINARY, "--backend=fpga",
       "--model-repository=" + DefaultRepository(), "--bind=127.0.0.1",
       "--grpc-port=0", "--http-port=-1", "--metrics-port=-1"});
  EXPECT_EQ(run.status, 1) << run.err;
  // Reported, not asserted: how fast a machine starts a process varies.
  std::printf("fxserve --backend=fpga without a device exited after %.2f s\n",
              seconds);
}

TEST(ServerFpgaTest, FallbackServesOnTheCpuAndSaysSo) {
  auto server = ServerProcess::Start({"--backend=fpga", "--fallback=cpu"});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_NE((*server)->Log().find("serving on the cpu backend instead"),
            std::string::npos)
      << (*server)->Log();
  absl::StatusOr<double> fallback = (*server)->MetricValue(
      "fxserve_backend_fallback{model=\"tiny-gpt2\",model_instance=\"fpga_0\","
      "configured=\"fpga\","
      "serving=\"cpu\"}");
  ASSERT_TRUE(fallback.ok()) << fallback.status();
  EXPECT_EQ(*fallback, 1);
  inference::ModelConfigResponse config;
  ASSERT_TRUE(GetModelConfig(**server, config));
  EXPECT_EQ(config.config().backend(), "cpu");
  const auto& parameters = config.config().parameters();
  ASSERT_TRUE(parameters.contains("fallback_reason"));
  EXPECT_NE(parameters.at("fallback_reason").string_value().find("FPGA"),
            std::string::npos);
  auto client = MakeClient(**server);
  ASSERT_NE(client, nullptr);
  GenerateOptions options;
  options.max_tokens = 3;
  EXPECT_TRUE(client->Generate("Hello", options).ok());
}

TEST(FxtoolDevicesTest, ListsTheEmulatedCardAndItsXclbins) {
  const CommandResult run =
      RunCommand({FXTOOL_BINARY, "devices", "--fpga-emulation"});
  ASSERT_EQ(run.status, 0) << run.err;
  for (const char* shown :
       {"1 FPGA device(s)", "[0] fxserve_sw_emu", "target sw_emu",
        "kernel fxserve_gpt2_tiny_w8a8_pow2", "arg kv", "banks HBM[4]",
        "kernel fxserve_gpt2_small_w4a8_fixed", "HBM[5]: 4096 MiB"}) {
    EXPECT_NE(run.out.find(shown), std::string::npos) << shown << "\n"
                                                      << run.out;
  }
}

// Sends one-token requests (recovery happens at a step) until the model's
// FPGA is back: fxserve_backend_recoveries_total 1, healthy 1.
void ExpectRecovery(const ServerProcess& server) {
  auto client = MakeClient(server);
  ASSERT_NE(client, nullptr);
  GenerateOptions options;
  options.max_tokens = 1;
  double recoveries = 0;
  const absl::Time give_up = absl::Now() + absl::Seconds(300);
  while (recoveries < 1 && absl::Now() < give_up) {
    ASSERT_TRUE(client->Generate("Are you back?", options).ok());
    absl::StatusOr<double> read = server.MetricValue(
        "fxserve_backend_recoveries_total{model=\"tiny-gpt2\",model_instance="
        "\"fpga_"
        "0\"}");
    recoveries = read.ok() ? *read : 0;
    if (recoveries < 1) absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_EQ(recoveries, 1) << server.Log();
  absl::StatusOr<double> healthy = server.MetricValue(
      "fxserve_fpga_device_healthy{model=\"tiny-gpt2\",model_instance=\"fpga_"
      "0\"}");
  ASSERT_TRUE(healthy.ok()) << healthy.status();
  EXPECT_EQ(*healthy, 1);
}

// A card fault while serving: the model's sequences move to the CPU
// standby in the step that failed, so every stream's text is the
// unfaulted text and no request is lost; the failover is counted and the
// device reported unhealthy; then a retry, in a fresh worker process,
// finds the card again (for every kind: a hung CU and a dead device process
// too) and the sequences move back. Faults fire at the first kernel launch
// (a prefill) or the seventh (decoding).
class ServerFailoverTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ServerFailoverTest, StreamsContinueOnTheCpuWithTheSameText) {
#ifdef FXSERVE_SANITIZED
  constexpr int kTokens = 8;  // Enough steps to reach the 7th launch.
#else
  constexpr int kTokens = 12;
#endif
  std::vector<Request> requests;
  for (int i = 0; i < 8; ++i) {
    requests.push_back({absl::StrCat("Stream number ", i, " says"), kTokens,
                        static_cast<uint64_t>(100 + i), true});
  }
  auto cpu = ServerProcess::Start({"--backend=cpu"});
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  const std::vector<std::string> want = RunConcurrently(**cpu, requests);

  const std::string fault = GetParam();
  setenv("FXSERVE_CARD_FAULT", fault.c_str(), 1);
  // Only the first card process faults: the one a retry starts is healthy.
  const std::string once = MakeTempDir() + "/fault-fired";
  setenv("FXSERVE_CARD_FAULT_ONCE", once.c_str(), 1);
  // A hung run is given up after the timeout: 20 s leaves every healthy
  // launch (well under a second, a few under ASan) room on any machine.
  auto fpga =
      ServerProcess::Start({"--backend=fpga", "--fpga-emulation",
                            "--fallback=cpu", "--fpga-run-timeout-ms=20000"});
  unsetenv("FXSERVE_CARD_FAULT");
  unsetenv("FXSERVE_CARD_FAULT_ONCE");
  ASSERT_TRUE(fpga.ok()) << fpga.status();
  const std::vector<std::string> got = RunConcurrently(**fpga, requests);
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_FALSE(want[i].empty());
    EXPECT_EQ(got[i], want[i]) << requests[i].prompt << "\n" << (*fpga)->Log();
  }
  const std::string kind = fault.substr(0, fault.find('@'));
  const std::string code =
      kind == "hang" || kind == "die" ? "deadline_exceeded" : "data_loss";
  absl::StatusOr<double> failovers = (*fpga)->MetricValue(
      absl::StrCat("fxserve_backend_failovers_total{model=\"tiny-gpt2\","
                   "model_instance=\"fpga_0\",from=\"fpga\","
                   "to=\"cpu\",fault=\"",
                   code, "\"}"));
  ASSERT_TRUE(failovers.ok()) << failovers.status() << (*fpga)->Log();
  EXPECT_EQ(*failovers, 1);
  absl::StatusOr<double> healthy = (*fpga)->MetricValue(
      "fxserve_fpga_device_healthy{model=\"tiny-gpt2\",model_instance=\"fpga_"
      "0\"}");
  ASSERT_TRUE(healthy.ok()) << healthy.status();
  EXPECT_EQ(*healthy, 0);
  absl::StatusOr<double> succeeded = (*fpga)->MetricValue(
      "fxserve_request_success_total{model=\"tiny-gpt2\",backend=\"fpga\","
      "model_instance=\"fpga_0\"}");
  ASSERT_TRUE(succeeded.ok()) << succeeded.status();
  EXPECT_EQ(*succeeded, requests.size());
  // A retry starts a fresh worker process, which opens the card again (a
  // hung or dead device took only the old worker down); the next requests
  // move back to it, with the same text.
  ExpectRecovery(**fpga);
#ifndef FXSERVE_SANITIZED
  EXPECT_EQ(RunConcurrently(**fpga, requests), want) << (*fpga)->Log();
#endif
  // And it still stops cleanly, whatever state XRT was left in.
  (*fpga)->SendSignal(SIGTERM);
  absl::StatusOr<int> exit_status = (*fpga)->WaitForExit(absl::Seconds(300));
  ASSERT_TRUE(exit_status.ok()) << exit_status.status() << (*fpga)->Log();
  EXPECT_EQ(*exit_status, 0) << (*fpga)->Log();
}

INSTANTIATE_TEST_SUITE_P(
    EveryFault, ServerFailoverTest,
    ::testing::Values("sync@1", "error@1", "hang@1", "die@1", "sync@7",
                      "error@7", "hang@7", "die@7"),
    [](const ::testing::TestParamInfo<const char*>& param) {
      std::string name = param.param;
      name[name.find('@')] = '_';
      return name;
    });

}  // namespace
}  // namespace fxserve::testing
