// PrepareSwEmulation, EnsureSwEmuFixLoaded and the libxrt_swemu fix, end to
// end: XRT's native API runs a toy vadd on Debian's real sw_emu shim against
// a toy device process (toy_card_main.cc), with an xclbin from our writer.
//
// main() calls EnsureSwEmuFixLoaded first, so every test runs with the fix
// preloaded; with kChildFlag the binary instead runs the toy once and
// reports, which DebianLibxrtSwemuStillNeedsTheFix does with and without
// the fix in subprocesses.
#include "backends/fpga/emulation/emulation_env.h"

#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "backends/fpga/emulation/xclbin_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "xrt/xrt_bo.h"
#include "xrt/xrt_device.h"
#include "xrt/xrt_kernel.h"

#ifndef FXSERVE_TOY_CARD
#error "FXSERVE_TOY_CARD must name the toy device process"
#endif

namespace fxserve::backends::fpga {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kChildFlag[] = "--fxserve_toy_vadd_child";
constexpr uint64_t kMiB = uint64_t{1} << 20;
char** test_argv = nullptr;

// vadd(a, b, c, n) with HLS-style offsets; a and c in HBM[0], b in HBM[1].
CardManifest ToyManifest() {
  CardManifest m;
  m.build = "toy-vadd";
  m.banks = {{"HBM[0]", 0, 256 * kMiB}, {"HBM[1]", 256 * kMiB, 256 * kMiB}};
  KernelManifest vadd;
  vadd.name = "vadd";
  vadd.args = {{"a", true, 0x10, 8, 0, "int*"},
               {"b", true, 0x1c, 8, 1, "int*"},
               {"c", true, 0x28, 8, 0, "int*"},
               {"n", false, 0x34, 4, -1, "int"}};
  vadd.cu_bases = {0x1800000};
  m.kernels = {vadd};
  return m;
}

void Stage(std::string_view stage) {
  std::printf("toy_vadd: stage %.*s\n", static_cast<int>(stage.size()),
              stage.data());
  std::fflush(stdout);
}

// The toy on XRT's native API; "" if c == a + b, else what went wrong.
std::string RunToyVaddOnXrt(const std::string& xclbin_path, int n) {
  Stage("open");
  xrt::device device(0);
  Stage("load_xclbin");
  const xrt::uuid uuid = device.load_xclbin(xclbin_path);
  Stage("run");
  xrt::kernel vadd(device, uuid, "vadd");
  if (vadd.group_id(0) != 0 || vadd.group_id(1) != 1 || vadd.group_id(2) != 0) {
    return absl::StrCat("group ids ", vadd.group_id(0), ",", vadd.group_id(1),
                        ",", vadd.group_id(2),
                        " are not the manifest's banks 0,1,0");
  }
  const size_t bytes = n * sizeof(int);
  xrt::bo a(device, bytes, vadd.group_id(0));
  xrt::bo b(device, bytes, vadd.group_id(1));
  xrt::bo c(device, bytes, vadd.group_id(2));
  if (b.address() < 256 * kMiB) return "b is not in the second bank";
  std::vector<int> ha(n), hb(n), hc(n, -1);
  for (int i = 0; i < n; ++i) {
    ha[i] = i;
    hb[i] = 1000 * i - 7;
  }
  a.write(ha.data());
  b.write(hb.data());
  a.sync(XCL_BO_SYNC_BO_TO_DEVICE);
  b.sync(XCL_BO_SYNC_BO_TO_DEVICE);
  xrt::run run = vadd(a, b, c, n);
  const ert_cmd_state state = run.wait(std::chrono::seconds(30));
  if (state != ERT_CMD_STATE_COMPLETED) {
    return absl::StrCat("run.wait() ended in state ", state);
  }
  c.sync(XCL_BO_SYNC_BO_FROM_DEVICE);
  c.read(hc.data());
  int bad = 0;
  for (int i = 0; i < n; ++i) bad += hc[i] != ha[i] + hb[i];
  Stage("done");
  return bad ? absl::StrCat(bad, " of ", n, " sums are wrong") : "";
}

// Prepares the emulation, writes the toy's xclbin and runs it.
std::string RunToyVadd(int n = 4096) {
  SwEmulationOptions options;
  options.card_program = FXSERVE_TOY_CARD;
  options.banks = ToyManifest().banks;
  if (absl::Status s = PrepareSwEmulation(options); !s.ok()) {
    return absl::StrCat("PrepareSwEmulation: ", s.ToString());
  }
  const std::string xclbin =
      absl::StrCat(std::getenv("SDACCEL_EM_RUN_DIR"), "/toy_vadd.xclbin");
  if (absl::Status s = WriteSwEmuXclbin(ToyManifest(), xclbin); !s.ok()) {
    return absl::StrCat("WriteSwEmuXclbin: ", s.ToString());
  }
  try {
    return RunToyVaddOnXrt(xclbin, n);
  } catch (const std::exception& e) {
    return absl::StrCat("XRT threw: ", e.what());
  }
}

// kChildFlag: one toy run, reported on stdout; exit status 0 iff it passed.
int ToyVaddChildMain() {
  std::printf("toy_vadd: fix loaded=%d\n", GetSwEmuFixState().loaded);
  const std::string error = RunToyVadd();
  const SwEmuFixState fix = GetSwEmuFixState();
  std::printf(
      "toy_vadd: fix armed=%d absorbed_reallocs=%llu freed_unmaps=%llu\n",
      fix.armed, static_cast<unsigned long long>(fix.absorbed_reallocs),
      static_cast<unsigned long long>(fix.freed_unmaps));
  std::printf("toy_vadd: %s%s\n", error.empty() ? "PASS" : "FAIL ",
              error.c_str());
  std::fflush(stdout);
  return error.empty() ? 0 : 1;
}

// ---------------------------------------------------------------------------
// Subprocesses.

struct ChildResult {
  std::string output;  // stdout and stderr.
  int status = 0;      // waitpid status.
  bool timed_out = false;

  bool Passed() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
  std::string How() const {
    if (timed_out) return "hung (killed after the timeout)";
    if (WIFSIGNALED(status)) {
      return absl::StrCat("was killed by signal ", WTERMSIG(status));
    }
    return absl::StrCat("exited with status ", WEXITSTATUS(status));
  }
  std::string Describe() const {
    return absl::StrCat(How(), "; output:\n", output);
  }
};

// LD_PRELOAD without the fix library (or with it first).
std::string PreloadList(bool with_fix) {
  const char* old = std::getenv("LD_PRELOAD");
  std::vector<std::string> kept;
  if (with_fix) kept.push_back(SwEmuFixLibraryPath());
  for (absl::string_view entry : absl::StrSplit(old ? old : "", ':')) {
    if (!entry.empty() && !absl::StrContains(entry, "libfxserve_swemu_fix")) {
      kept.emplace_back(entry);
    }
  }
  return absl::StrJoin(kept, ":");
}

struct ChildOptions {
  std::vector<std::string> args = {kChildFlag};
  bool with_fix = true;
  // Else the child leads a process group in this session, so it cannot
  // setsid() itself.
  bool own_session = true;
  std::vector<std::string> env;  // NAME=value, added last.
  // The child is killed after this long (the toy takes well under 1 s).
  std::chrono::seconds timeout{60};
};

// This process's environment with LD_PRELOAD as `options` asks.
std::vector<std::string> ChildEnvironment(const ChildOptions& options) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!absl::StartsWith(*e, "LD_PRELOAD=")) env.emplace_back(*e);
  }
  env.push_back("LD_PRELOAD=" + PreloadList(options.with_fix));
  env.insert(env.end(), options.env.begin(), options.env.end());
  return env;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

void ReadAvailable(int fd, std::string& out) {
  char buffer[4096];
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, 0) > 0 && (p.revents & POLLIN)) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    out.append(buffer, n);
  }
}

// Waits up to `timeout` for `pid`, collecting what it writes to `fd`.
void Collect(pid_t pid, int fd, std::chrono::seconds timeout,
             ChildResult& result) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (::waitpid(pid, &result.status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &result.status, 0);
      break;
    }
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, 50);
    ReadAvailable(fd, result.output);
  }
  ReadAvailable(fd, result.output);
}

// Runs this binary again, in a process group of its own (the shim's crash
// handler kills its whole group).
ChildResult RunSelf(const ChildOptions& options) {
  std::vector<std::string> args = {test_argv[0]};
  args.insert(args.end(), options.args.begin(), options.args.end());
  std::vector<std::string> env = ChildEnvironment(options);
  std::vector<char*> argv = Pointers(args), envp = Pointers(env);
  // The shim, once loaded in this process, kills everything when a child
  // dies of a signal: keep its SIGCHLD handler out of the way.
  struct sigaction dfl = {}, saved = {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGCHLD, &dfl, &saved);
  ChildResult result;
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return result;
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {  // Only async-signal-safe calls from here on.
    options.own_session ? ::setsid() : ::setpgid(0, 0);
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    ::execve("/proc/self/exe", argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  Collect(pid, pipe_fds[0], options.timeout, result);
  ::kill(-pid, SIGKILL);  // Whatever is left of its process group.
  ::close(pipe_fds[0]);
  ::sigaction(SIGCHLD, &saved, nullptr);
  return result;
}

// A fresh path for `name` under the test's temporary folder.
std::string Scratch(const std::string& name) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/fxserve_env_",
                                       ::getpid(), "_", name);
  fs::remove_all(dir);
  return dir;
}

std::optional<std::string> GetEnv(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::optional<std::string>(value) : std::nullopt;
}

void RestoreEnv(const char* name, const std::optional<std::string>& value) {
  value ? ::setenv(name, value->c_str(), 1) : ::unsetenv(name);
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// ---------------------------------------------------------------------------
// The fix library and EnsureSwEmuFixLoaded.

TEST(SwEmuFix, IsPreloadedAheadOfMalloc) {
  const SwEmuFixState fix = GetSwEmuFixState();
  EXPECT_TRUE(fix.loaded);
  EXPECT_THAT(std::getenv("LD_PRELOAD"), HasSubstr("libfxserve_swemu_fix.so"));
  // Loaded: returns at once, no re-exec.
  EXPECT_TRUE(EnsureSwEmuFixLoaded(test_argv).ok());
}

TEST(SwEmuFix, LibraryPathHonoursTheEnvironment) {
  ::setenv("FXSERVE_SWEMU_FIX", "/somewhere/libfix.so", 1);
  EXPECT_EQ(SwEmuFixLibraryPath(), "/somewhere/libfix.so");
  ::unsetenv("FXSERVE_SWEMU_FIX");
  EXPECT_TRUE(fs::exists(SwEmuFixLibraryPath())) << SwEmuFixLibraryPath();
}

// ctest starts each test without the fix: main() re-executed it through
// setsid(). A process that leads its process group cannot setsid(), so it
// runs the program in a forked session leader and passes on its status.
TEST(SwEmuFix, ReexecutesFromAProcessGroupLeader) {
  ChildOptions options;
  options.with_fix = false;
  options.own_session = false;
  options.args = {"--gtest_filter=SwEmuFix.IsPreloadedAheadOfMalloc"};
  const ChildResult result = RunSelf(options);
  EXPECT_TRUE(result.Passed()) << result.Describe();
  EXPECT_THAT(result.output, HasSubstr("[  PASSED  ] 1 test."));
}

TEST(SwEmuFix, EnsureExplainsAMissingOrBadLibrary) {
  ChildOptions options;
  options.with_fix = false;
  options.args = {"--gtest_filter=SwEmuFix.IsPreloadedAheadOfMalloc"};
  options.env = {"FXSERVE_SWEMU_FIX=/no/such/libfix.so"};
  const ChildResult missing = RunSelf(options);
  EXPECT_FALSE(missing.Passed());
  EXPECT_THAT(missing.output, HasSubstr("/no/such/libfix.so"));

  // ld.so ignores a preload that is no library; the re-executed process
  // must say so rather than re-execute again (and, here through the forked
  // session leader, exit with that failure).
  const std::string not_a_library = Scratch("not_a_library.so");
  std::ofstream(not_a_library) << "not an ELF file\n";
  options.env = {"FXSERVE_SWEMU_FIX=" + not_a_library};
  options.own_session = false;
  const ChildResult bad = RunSelf(options);
  EXPECT_TRUE(WIFEXITED(bad.status) && WEXITSTATUS(bad.status) == 1)
      << bad.Describe();
  EXPECT_THAT(bad.output, HasSubstr("the swemu fix is not loaded"));
  fs::remove(not_a_library);
}

// ---------------------------------------------------------------------------
// PrepareSwEmulation.

TEST(PrepareSwEmulation, MakesTheLayoutTheShimReads) {
  SwEmulationOptions options;
  options.card_program = FXSERVE_TOY_CARD;
  options.scratch_dir = Scratch("layout");
  options.devices = 2;
  options.banks = {{"HBM[0]", 0, 256 * kMiB}, {"DDR[0]", 0, 3 * (kMiB << 10)}};
  ::setenv("XILINX_HLS", "/opt/hls", 1);
  ::setenv("XILINX_VIVADO", "/opt/vivado", 1);
  ASSERT_TRUE(PrepareSwEmulation(options).ok());
  const fs::path scratch = options.scratch_dir;
  EXPECT_STREQ(std::getenv("XCL_EMULATION_MODE"), "sw_emu");
  EXPECT_EQ(std::getenv("XILINX_XRT"), (scratch / "xrt").string());
  EXPECT_EQ(std::getenv("XILINX_VITIS"), (scratch / "vitis").string());
  EXPECT_EQ(std::getenv("EMCONFIG_PATH"), (scratch / "emconfig").string());
  EXPECT_EQ(std::getenv("SDACCEL_EM_RUN_DIR"), (scratch / "run").string());
  EXPECT_EQ(std::getenv("XILINX_HLS"), nullptr);
  EXPECT_EQ(std::getenv("XILINX_VIVADO"), nullptr);
  EXPECT_TRUE(fs::is_directory(scratch / "run"));
  for (const char* lib :
       {"libxrt_core.so.2", "libxrt_coreutil.so.2", "libxrt_swemu.so.2"}) {
    const fs::path link = scratch / "xrt" / "lib" / lib;
    EXPECT_TRUE(fs::is_symlink(link)) << link;
    EXPECT_TRUE(fs::is_regular_file(link)) << link << " is dangling";
  }
  const fs::path model = scratch / "vitis" / "data" / "emulation" / "unified" /
                         "cpu_em" / "generic_pcie" / "model" /
                         "genericpciemodel";
  EXPECT_EQ(fs::canonical(model), fs::canonical(FXSERVE_TOY_CARD));
  const std::string emconfig = ReadFile(scratch / "emconfig" / "emconfig.json");
  EXPECT_THAT(emconfig, HasSubstr(R"("NumDevices": "2")"));
  EXPECT_THAT(emconfig, HasSubstr(R"([{"Size": "256MB"}, {"Size": "4GB"}])"));
  // Preparing again over the same folder replaces what is there.
  EXPECT_TRUE(PrepareSwEmulation(options).ok());
  fs::remove_all(scratch);
}

TEST(PrepareSwEmulation, MakesAFreshScratchUnderTmpdir) {
  const std::string tmpdir = Scratch("tmpdir");
  fs::create_directories(tmpdir);
  const std::optional<std::string> saved = GetEnv("TMPDIR");
  ::setenv("TMPDIR", tmpdir.c_str(), 1);
  SwEmulationOptions options;
  options.card_program = FXSERVE_TOY_CARD;
  const absl::Status status = PrepareSwEmulation(options);
  RestoreEnv("TMPDIR", saved);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_THAT(std::getenv("XILINX_XRT"),
              StartsWith(absl::StrCat(tmpdir, "/fxserve-swemu-", ::getpid())));
  EXPECT_THAT(
      ReadFile(fs::path(std::getenv("EMCONFIG_PATH")) / "emconfig.json"),
      HasSubstr(R"([{"Size": "4GB"}])"));
  fs::remove_all(tmpdir);
}

TEST(PrepareSwEmulation, GivesAProcessWithoutUserItsOwnName) {
  const std::optional<std::string> saved = GetEnv("USER");
  ::unsetenv("USER");
  SwEmulationOptions options;
  options.card_program = FXSERVE_TOY_CARD;
  options.scratch_dir = Scratch("user");
  const absl::Status status = PrepareSwEmulation(options);
  const std::string user = GetEnv("USER").value_or("");
  RestoreEnv("USER", saved);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(user, absl::StrCat("fxserve-swemu-user", ::getpid()));
  fs::remove_all(options.scratch_dir);
}

TEST(PrepareSwEmulation, ErrorsNameWhatFailed) {
  SwEmulationOptions options;
  options.card_program = "/no/such/card";
  absl::Status s = PrepareSwEmulation(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("/no/such/card"));

  const std::string not_executable = Scratch("not_executable");
  std::ofstream(not_executable) << "#!/bin/sh\n";
  ::chmod(not_executable.c_str(), 0644);
  options.card_program = not_executable;
  s = PrepareSwEmulation(options);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(not_executable));

  options.card_program = FXSERVE_TOY_CARD;
  options.scratch_dir = not_executable + "/scratch";  // Under a file.
  s = PrepareSwEmulation(options);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(options.scratch_dir));
  fs::remove(not_executable);

  options.scratch_dir = "";
  options.devices = 0;
  s = PrepareSwEmulation(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("devices"));

  options.devices = 1;
  options.banks = {{"HBM[0]", 0, kMiB}, {"DDR[0]", 0, uint64_t{1} << 49}};
  s = PrepareSwEmulation(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("banks[1].size_bytes"));
}

// ---------------------------------------------------------------------------
// End to end.

TEST(SwEmuEndToEnd, ToyVaddRunsOnXrtsShim) {
  ASSERT_TRUE(GetSwEmuFixState().loaded);
  EXPECT_EQ(RunToyVadd(), "");
  const SwEmuFixState fix = GetSwEmuFixState();
  EXPECT_TRUE(fix.armed) << "the fix never found alloc_void in libxrt_swemu";
  EXPECT_GT(fix.absorbed_reallocs, 0u);
  // The buffers' host copies went back to the heap, not to munmap().
  EXPECT_GT(fix.freed_unmaps, 0u);
}

// The check that says when the workaround is no longer needed: the same
// toy passes with the fix and crashes without it. If it stops crashing,
// Debian's libxrt_swemu is fixed.
TEST(SwEmuEndToEnd, DebianLibxrtSwemuStillNeedsTheFix) {
  // A crashing child cannot clean up: give both children folders this test
  // removes.
  const std::string tmpdir = Scratch("children");
  fs::create_directories(tmpdir);
  const std::string user = absl::StrCat("fxserve-swemu-test", ::getpid());
  struct Cleanup {
    std::vector<std::string> paths;
    ~Cleanup() {
      for (const std::string& p : paths) fs::remove_all(p);
    }
  } cleanup{{tmpdir, "/tmp/" + user}};
  ChildOptions with;
  with.env = {"TMPDIR=" + tmpdir, "USER=" + user};
  const ChildResult with_fix = RunSelf(with);
  ASSERT_TRUE(with_fix.Passed()) << with_fix.Describe();
  ASSERT_THAT(with_fix.output, HasSubstr("toy_vadd: PASS"));
  ASSERT_THAT(with_fix.output, HasSubstr("fix armed=1"));

  // Without the fix the shim corrupts its heap: it crashes, or deadlocks
  // when its crash handler exits inside malloc.
  ChildOptions no_fix = with;
  no_fix.with_fix = false;
  no_fix.timeout = std::chrono::seconds(5);
  const ChildResult without = RunSelf(no_fix);
  ASSERT_THAT(without.output, HasSubstr("toy_vadd: fix loaded=0"))
      << without.Describe();
  ASSERT_THAT(without.output, HasSubstr("toy_vadd: stage load_xclbin"))
      << "the run without the fix failed before it got to the bug: "
      << without.Describe();
  EXPECT_FALSE(without.Passed() ||
               absl::StrContains(without.output, "toy_vadd: PASS"))
      << "Debian's libxrt_swemu looks fixed: the toy vadd ran without "
         "libfxserve_swemu_fix. The workaround (swemu_realloc_fix.c and "
         "EnsureSwEmuFixLoaded) can go.\n"
      << without.Describe();
  EXPECT_FALSE(absl::StrContains(without.output, "toy_vadd: stage done"))
      << without.Describe();
  std::printf("Without the fix the toy %s in load_xclbin, as expected.\n",
              without.How().c_str());
}

bool ListingTests(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--gtest_list_tests") return true;
  }
  return false;
}

}  // namespace
}  // namespace fxserve::backends::fpga

int main(int argc, char** argv) {
  namespace f = fxserve::backends::fpga;
  f::test_argv = argv;
  if (argc >= 2 && std::string_view(argv[1]) == f::kChildFlag) {
    return f::ToyVaddChildMain();
  }
  if (!f::ListingTests(argc, argv)) {
    const absl::Status status = f::EnsureSwEmuFixLoaded(argv);
    if (!status.ok()) {
      std::fprintf(stderr, "%s\n", status.ToString().c_str());
      return 1;
    }
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
