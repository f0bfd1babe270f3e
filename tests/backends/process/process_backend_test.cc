// ProcessBackend: the CPU backend run in fxserve-backend-worker gives the
// in-process backend's logits bits; bad steps are refused without harm;
// a worker that dies is a sticky device fault; a worker that cannot open
// its backend reports why.
#include "backends/process/process_backend.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "gtest/gtest.h"
#include "model/quantized_artifact.h"

namespace fxserve::backends::process {
namespace {

const model::QuantizedGpt2& Model() {
  static const model::QuantizedGpt2* model = [] {
    auto m = model::LoadQuantizedGpt2(FXSERVE_TEST_ARTIFACT);
    if (!m.ok()) {
      ADD_FAILURE() << m.status();
      std::abort();
    }
    return new model::QuantizedGpt2(*std::move(m));
  }();
  return *model;
}

BackendOptions Options(bool own_process) {
  return {.threads = 1,
          .max_batch = 4,
          .own_process = own_process,
          .artifact_dir = FXSERVE_TEST_ARTIFACT};
}

std::unique_ptr<Backend> Open(bool own_process) {
  auto backend = CreateBackend("cpu", Model(), Options(own_process));
  EXPECT_TRUE(backend.ok()) << backend.status();
  return backend.ok() ? *std::move(backend) : nullptr;
}

// A prefill of two sequences, then three decode steps; every input's
// logits.
std::vector<std::vector<int32_t>> RunSteps(Backend& backend) {
  std::vector<std::vector<int32_t>> rows;
  const std::vector<int> a = {464, 3797, 318}, b = {7454, 2402};
  StepOutput out;
  EXPECT_TRUE(backend
                  .Step({{.id = 1, .tokens = a, .all_logits = true},
                         {.id = 2, .tokens = b}},
                        out)
                  .ok());
  rows.insert(rows.end(), out.logits.begin(), out.logits.end());
  for (int step = 0; step < 3; ++step) {
    const std::vector<int> next = {100 + step}, other = {200 + step};
    EXPECT_TRUE(
        backend
            .Step({{.id = 1, .tokens = next}, {.id = 2, .tokens = other}}, out)
            .ok());
    rows.insert(rows.end(), out.logits.begin(), out.logits.end());
  }
  return rows;
}

// The pids of this process's children.
std::vector<pid_t> Children() {
  std::vector<pid_t> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string pid, comm, state;
    pid_t parent = 0;
    if (stat >> pid >> comm >> state >> parent && parent == getpid()) {
      children.push_back(std::stoi(pid));
    }
  }
  return children;
}

TEST(ProcessBackend, GivesTheInProcessBackendsBits) {
  std::unique_ptr<Backend> here = Open(false);
  std::unique_ptr<Backend> there = Open(true);
  ASSERT_NE(here, nullptr);
  ASSERT_NE(there, nullptr);
  EXPECT_EQ(there->capabilities().name, "cpu");
  EXPECT_NE(there->capabilities().detail.find("in its own process"),
            std::string::npos);
  EXPECT_EQ(there->capabilities().kv_blocks, here->capabilities().kv_blocks);
  const std::vector<std::vector<int32_t>> want = RunSteps(*here);
  ASSERT_EQ(want.size(), 2u + 6u);  // Per input, per step.
  EXPECT_EQ(want[0].size(), 3u * Model().config.vocab_size);  // all_logits.
  EXPECT_EQ(RunSteps(*there), want);
  EXPECT_EQ(there->SequenceLength(1), 6);
  EXPECT_EQ(there->FreeKvBlocks(), here->FreeKvBlocks());
  there->FreeSequence(1);
  here->FreeSequence(1);
  EXPECT_EQ(there->SequenceLength(1), 0);
  EXPECT_EQ(there->FreeKvBlocks(), here->FreeKvBlocks());
}

TEST(ProcessBackend, RefusesABadStepAndKeepsServing) {
  std::unique_ptr<Backend> there = Open(true);
  ASSERT_NE(there, nullptr);
  const std::vector<int> bad = {Model().config.vocab_size}, good = {464};
  StepOutput out;
  EXPECT_EQ(there->Step({{.id = 1, .tokens = bad}}, out).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(there->SequenceLength(1), 0);
  EXPECT_TRUE(there->Step({{.id = 1, .tokens = good}}, out).ok());
  EXPECT_EQ(out.logits.size(), 1u);
}

TEST(ProcessBackend, AWorkerThatDiesIsAStickyDeviceFault) {
  const std::vector<pid_t> before = Children();
  std::unique_ptr<Backend> there = Open(true);
  ASSERT_NE(there, nullptr);
  std::vector<pid_t> started;
  for (pid_t child : Children()) {
    if (std::find(before.begin(), before.end(), child) == before.end()) {
      started.push_back(child);
    }
  }
  ASSERT_EQ(started.size(), 1u);
  ASSERT_EQ(::kill(started[0], SIGKILL), 0);
  const std::vector<int> tokens = {464};
  StepOutput out;
  const absl::Status failed = there->Step({{.id = 1, .tokens = tokens}}, out);
  EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable) << failed;
  EXPECT_EQ(DeviceFaultKind(failed), "worker");
  EXPECT_NE(failed.message().find("worker process failed"), std::string::npos)
      << failed;
  EXPECT_EQ(there->Step({{.id = 2, .tokens = tokens}}, out), failed);
  there->FreeSequence(1);  // Harmless.
  // A fresh one serves again.
  std::unique_ptr<Backend> again = Open(true);
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(again->Step({{.id = 1, .tokens = tokens}}, out).ok());
}

TEST(ProcessBackend, OpenErrorsComeFromTheWorker) {
  BackendOptions options = Options(true);
  options.artifact_dir = "/nonexistent/fxserve-artifact";
  auto missing = CreateBackend("cpu", Model(), options);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/fxserve-artifact"),
            std::string::npos)
      << missing.status();
  options.artifact_dir.clear();
  EXPECT_EQ(CreateBackend("cpu", Model(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ProcessBackend, AWorkerThatCannotStartSaysWhich) {
  setenv("FXSERVE_BACKEND_WORKER", "/nonexistent/fxserve-backend-worker", 1);
  auto backend = CreateBackend("cpu", Model(), Options(true));
  unsetenv("FXSERVE_BACKEND_WORKER");
  ASSERT_FALSE(backend.ok());
  EXPECT_NE(
      backend.status().message().find("/nonexistent/fxserve-backend-worker"),
      std::string::npos)
      << backend.status();
}

}  // namespace
}  // namespace fxserve::backends::process
