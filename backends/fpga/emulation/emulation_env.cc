#include "backends/fpga/emulation/emulation_env.h"

#include <dlfcn.h>
#include <link.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

#ifndef FXSERVE_SWEMU_FIX_BUILD_PATH
#define FXSERVE_SWEMU_FIX_BUILD_PATH ""
#endif

namespace fxserve::backends::fpga {
namespace {

namespace fs = std::filesystem;

constexpr char kFixLibraryName[] = "libfxserve_swemu_fix.so";
// Set across the re-exec, so a preload that did not take is an error, not
// a loop.
constexpr char kReexecMarker[] = "FXSERVE_SWEMU_FIX_REEXEC";
constexpr char kModelPath[] =
    "data/emulation/unified/cpu_em/generic_pcie/model/genericpciemodel";
constexpr const char* kXrtLibraries[] = {
    "libxrt_core.so.2", "libxrt_coreutil.so.2", "libxrt_swemu.so.2"};

// ---------------------------------------------------------------------------
// Files and folders.

absl::Status FsError(absl::string_view what, const fs::path& path,
                     const std::error_code& ec) {
  return absl::Status(
      absl::ErrnoToStatusCode(ec.value()),
      absl::StrCat(what, " ", path.string(), ": ", ec.message()));
}

// Paths removed at exit by the process that made them (not by the shim's
// forked children, which may exit() before they exec).
struct Cleanup {
  std::mutex mu;
  std::vector<fs::path> paths;
  pid_t owner = getpid();
};

Cleanup& GetCleanup() {
  static Cleanup* const cleanup = new Cleanup;
  return *cleanup;
}

void RemoveRegisteredPaths() {
  Cleanup& c = GetCleanup();
  std::lock_guard<std::mutex> lock(c.mu);
  if (getpid() != c.owner) return;
  for (const fs::path& p : c.paths) {
    std::error_code ignored;
    fs::remove_all(p, ignored);
  }
}

void RemoveAtExit(const fs::path& path) {
  static const bool registered = (std::atexit(RemoveRegisteredPaths), true);
  (void)registered;
  Cleanup& c = GetCleanup();
  std::lock_guard<std::mutex> lock(c.mu);
  c.paths.push_back(path);
}

absl::StatusOr<fs::path> MakeScratch(const std::string& requested) {
  std::error_code ec;
  if (!requested.empty()) {
    const fs::path dir = fs::absolute(requested, ec);
    if (!ec) fs::create_directories(dir, ec);
    if (ec) return FsError("cannot create scratch_dir", requested, ec);
    return dir;
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = absl::StrCat(tmp && *tmp ? tmp : "/tmp",
                                     "/fxserve-swemu-", ::getpid(), "-XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("cannot create a scratch folder ", pattern,
                            " (set TMPDIR or scratch_dir)"));
  }
  RemoveAtExit(pattern);
  return fs::path(pattern);
}

absl::Status CreateDirectories(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  return ec ? FsError("cannot create", dir, ec) : absl::OkStatus();
}

// `link` -> `target`, replacing whatever `link` was.
absl::Status ReplaceSymlink(const fs::path& target, const fs::path& link) {
  std::error_code ec;
  if (absl::Status s = CreateDirectories(link.parent_path()); !s.ok()) {
    return s;
  }
  if (fs::is_symlink(link, ec) || fs::exists(link, ec)) fs::remove(link, ec);
  if (!ec) fs::create_symlink(target, link, ec);
  if (ec) {
    return FsError(absl::StrCat("cannot link to ", target.string(), " from"),
                   link, ec);
  }
  return absl::OkStatus();
}

absl::Status WriteTextFile(const fs::path& path, absl::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write ", path.string()));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// XILINX_XRT: links to the XRT libraries this process uses.

int FindCoreutil(dl_phdr_info* info, size_t, void* data) {
  const absl::string_view name = info->dlpi_name ? info->dlpi_name : "";
  if (!absl::StrContains(name, "/libxrt_coreutil.so")) return 0;
  *static_cast<std::string*>(data) = std::string(name);
  return 1;
}

// The folder holding the libxrt_coreutil this process loaded (or would
// load), where Debian also puts libxrt_core and libxrt_swemu.
absl::StatusOr<fs::path> XrtLibraryDir() {
  std::string coreutil;
  dl_iterate_phdr(FindCoreutil, &coreutil);
  if (coreutil.empty()) {
    if (::dlopen("libxrt_coreutil.so.2", RTLD_NOW | RTLD_GLOBAL) == nullptr) {
      return absl::NotFoundError(absl::StrCat(
          "libxrt_coreutil.so.2 is not loaded and cannot be: ", ::dlerror(),
          " (install Debian's libxrt-dev)"));
    }
    dl_iterate_phdr(FindCoreutil, &coreutil);
  }
  std::error_code ec;
  const fs::path real = fs::canonical(coreutil, ec);
  if (ec) return FsError("cannot resolve", coreutil, ec);
  return real.parent_path();
}

absl::StatusOr<fs::path> MakeXilinxXrt(const fs::path& scratch) {
  absl::StatusOr<fs::path> lib_dir = XrtLibraryDir();
  if (!lib_dir.ok()) return lib_dir.status();
  const fs::path xrt = scratch / "xrt";
  for (const char* name : kXrtLibraries) {
    const fs::path target = *lib_dir / name;
    std::error_code ec;
    if (!fs::exists(target, ec)) {
      return absl::NotFoundError(
          absl::StrCat("XRT library ", target.string(),
                       " is missing (Debian's libxrt1 installs it next to "
                       "libxrt_coreutil)"));
    }
    if (absl::Status s = ReplaceSymlink(target, xrt / "lib" / name); !s.ok()) {
      return s;
    }
  }
  return xrt;
}

// ---------------------------------------------------------------------------
// XILINX_VITIS: the card program where the shim looks for genericpciemodel.

absl::StatusOr<fs::path> CardProgram(const std::string& program) {
  if (program.empty()) {
    return absl::InvalidArgumentError(
        "SwEmulationOptions.card_program is empty: it must name the "
        "device-process executable");
  }
  std::error_code ec;
  const fs::path path = fs::absolute(program, ec);
  if (ec || !fs::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat("SwEmulationOptions.card_program ",
                                            program, " is not a file"));
  }
  // The shim fopen()s the path before it execs it.
  if (::access(path.c_str(), R_OK | X_OK) != 0) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("SwEmulationOptions.card_program ", program,
                            " must be readable and executable"));
  }
  return path;
}

absl::StatusOr<fs::path> MakeXilinxVitis(const fs::path& scratch,
                                         const fs::path& card) {
  const fs::path vitis = scratch / "vitis";
  if (absl::Status s = ReplaceSymlink(card, vitis / kModelPath); !s.ok()) {
    return s;
  }
  return vitis;
}

// ---------------------------------------------------------------------------
// emconfig.json.

// The shim only knows power-of-two sizes spelled "1MB".."512MB",
// "1GB".."512GB", "1TB".."256TB" (anything else reads as 0 bytes).
absl::StatusOr<std::string> BankSizeText(uint64_t bytes, size_t index) {
  constexpr uint64_t kMiB = uint64_t{1} << 20;
  constexpr const char* kUnits[] = {"MB", "GB", "TB"};
  uint64_t size = kMiB;
  while (size < bytes && size < (uint64_t{256} << 40)) size <<= 1;
  if (size < bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("SwEmulationOptions.banks[", index, "].size_bytes ", bytes,
                     " is larger than the 256 TB the shim accepts"));
  }
  int unit = 0;
  size /= kMiB;
  while (size >= 1024) {
    size /= 1024;
    ++unit;
  }
  return absl::StrCat(size, kUnits[unit]);
}

absl::StatusOr<std::string> EmconfigJson(const SwEmulationOptions& options) {
  std::string banks;
  if (options.banks.empty()) banks = R"({"Size": "4GB"})";
  for (size_t i = 0; i < options.banks.size(); ++i) {
    absl::StatusOr<std::string> size =
        BankSizeText(options.banks[i].size_bytes, i);
    if (!size.ok()) return size.status();
    absl::StrAppend(&banks, i ? ", " : "", R"({"Size": ")", *size, R"("})");
  }
  return absl::StrCat(
      R"({
  "Version": {"FileVersion": "2.0", "ToolVersion": "fxserve"},
  "Platform": {"Boards": [{"NumBoards": "1", "Devices": [{
    "Name": "fxserve_sw_emu", "NumDevices": ")",
      options.devices, R"(",
    "DdrBanks": [)",
      banks, "]}]}]}\n}\n");
}

// ---------------------------------------------------------------------------
// Environment.

void SetEnv(const char* name, const std::string& value) {
  ::setenv(name, value.c_str(), 1);
}

// The shim's socket is /tmp/$USER/<id>; a process without USER gets a
// name of its own (and its folder is removed at exit).
void EnsureUser() {
  const char* user = std::getenv("USER");
  if (user != nullptr && *user != '\0') return;
  const std::string name = absl::StrCat("fxserve-swemu-user", ::getpid());
  SetEnv("USER", name);
  RemoveAtExit(fs::path("/tmp") / name);
}

struct Layout {
  fs::path xrt, vitis, emconfig, run;
};

absl::StatusOr<Layout> MakeLayout(const SwEmulationOptions& options,
                                  const fs::path& card) {
  absl::StatusOr<std::string> emconfig = EmconfigJson(options);
  if (!emconfig.ok()) return emconfig.status();
  absl::StatusOr<fs::path> scratch = MakeScratch(options.scratch_dir);
  if (!scratch.ok()) return scratch.status();
  Layout layout{{}, {}, *scratch / "emconfig", *scratch / "run"};
  absl::StatusOr<fs::path> xrt = MakeXilinxXrt(*scratch);
  if (!xrt.ok()) return xrt.status();
  layout.xrt = *xrt;
  absl::StatusOr<fs::path> vitis = MakeXilinxVitis(*scratch, card);
  if (!vitis.ok()) return vitis.status();
  layout.vitis = *vitis;
  for (const fs::path& dir : {layout.emconfig, layout.run}) {
    if (absl::Status s = CreateDirectories(dir); !s.ok()) return s;
  }
  if (absl::Status s =
          WriteTextFile(layout.emconfig / "emconfig.json", *emconfig);
      !s.ok()) {
    return s;
  }
  return layout;
}

// ---------------------------------------------------------------------------
// Re-executing with the fix preloaded.

bool InAsanProcess() { return ::dlsym(RTLD_DEFAULT, "__asan_init") != nullptr; }

void SetPreloadEnvironment(const std::string& library) {
  std::string preload = library;
  if (const char* old = std::getenv("LD_PRELOAD"); old && *old) {
    absl::StrAppend(&preload, ":", old);
  }
  SetEnv("LD_PRELOAD", preload);
  if (InAsanProcess()) {
    // ASan checks that its runtime comes first in the library list; with
    // the fix preloaded ahead of it, it must be told not to (the last
    // setting of a flag wins).
    const char* old = std::getenv("ASAN_OPTIONS");
    SetEnv("ASAN_OPTIONS",
           absl::StrCat(old && *old ? old : "", old && *old ? ":" : "",
                        "verify_asan_link_order=0"));
  }
  SetEnv(kReexecMarker, "1");
}

pid_t forwarded_child = 0;

void ForwardSignal(int signal) { ::kill(forwarded_child, signal); }

// This process leads its process group, so it cannot setsid(): a child
// that can runs the program, and this process passes on its exit.
absl::Status ExecInForkedSessionLeader(char** argv) {
  std::fflush(nullptr);
  const pid_t child = ::fork();
  if (child < 0) return absl::ErrnoToStatus(errno, "fork() failed");
  if (child == 0) {
    ::setsid();
    ::execv("/proc/self/exe", argv);
    std::perror("fxserve: cannot re-execute /proc/self/exe");
    ::_exit(127);
  }
  forwarded_child = child;
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
    std::signal(s, ForwardSignal);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    std::signal(WTERMSIG(status), SIG_DFL);
    ::kill(::getpid(), WTERMSIG(status));
    ::_exit(128 + WTERMSIG(status));
  }
  ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

absl::Status ExecAsSessionLeader(char** argv) {
  if (::getsid(0) != ::getpid() && ::setsid() < 0) {
    if (errno != EPERM) return absl::ErrnoToStatus(errno, "setsid() failed");
    return ExecInForkedSessionLeader(argv);
  }
  ::execv("/proc/self/exe", argv);
  return absl::ErrnoToStatus(errno, "cannot re-execute /proc/self/exe");
}

bool SameObject(void* a, void* b) {
  Dl_info ia, ib;
  return a && b && ::dladdr(a, &ia) && ::dladdr(b, &ib) &&
         ia.dli_fbase == ib.dli_fbase;
}

}  // namespace

absl::Status PrepareSwEmulation(const SwEmulationOptions& options) {
  if (options.devices < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SwEmulationOptions.devices is ", options.devices, ": at least 1"));
  }
  absl::StatusOr<fs::path> card = CardProgram(options.card_program);
  if (!card.ok()) return card.status();
  absl::StatusOr<Layout> layout = MakeLayout(options, *card);
  if (!layout.ok()) return layout.status();
  SetEnv("XCL_EMULATION_MODE", "sw_emu");
  SetEnv("XILINX_XRT", layout->xrt.string());
  SetEnv("XILINX_VITIS", layout->vitis.string());
  SetEnv("EMCONFIG_PATH", layout->emconfig.string());
  SetEnv("SDACCEL_EM_RUN_DIR", layout->run.string());
  ::unsetenv("XILINX_HLS");
  ::unsetenv("XILINX_VIVADO");
  EnsureUser();
  return absl::OkStatus();
}

absl::Status EnsureSwEmuFixLoaded(char** argv) {
  if (GetSwEmuFixState().loaded) {
    ::unsetenv(kReexecMarker);
    return absl::OkStatus();
  }
  const std::string library = SwEmuFixLibraryPath();
  if (std::getenv(kReexecMarker) != nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "re-executed with LD_PRELOAD=", library,
        " but the swemu fix is not loaded: is it a shared library for this "
        "machine? (ld.so prints why it ignored a preload)"));
  }
  if (::access(library.c_str(), R_OK) != 0) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("the swemu fix library ", library,
                            " cannot be read (build target fxserve_swemu_fix "
                            "or set FXSERVE_SWEMU_FIX)"));
  }
  if (argv == nullptr || argv[0] == nullptr) {
    return absl::InvalidArgumentError("EnsureSwEmuFixLoaded needs main's argv");
  }
  SetPreloadEnvironment(library);
  return ExecAsSessionLeader(argv);
}

std::string SwEmuFixLibraryPath() {
  if (const char* env = std::getenv("FXSERVE_SWEMU_FIX"); env && *env) {
    return env;
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path beside = exe.parent_path() / kFixLibraryName;
    if (fs::exists(beside, ec)) return beside.string();
  }
  return FXSERVE_SWEMU_FIX_BUILD_PATH;
}

SwEmuFixState GetSwEmuFixState() {
  void* armed = ::dlsym(RTLD_DEFAULT, "fxserve_swemu_fix_armed");
  void* absorbed = ::dlsym(RTLD_DEFAULT, "fxserve_swemu_fix_absorbed_reallocs");
  void* freed = ::dlsym(RTLD_DEFAULT, "fxserve_swemu_fix_freed_unmaps");
  SwEmuFixState state;
  if (armed == nullptr || absorbed == nullptr || freed == nullptr) {
    return state;
  }
  using Counter = unsigned long (*)();
  state.loaded = SameObject(armed, ::dlsym(RTLD_DEFAULT, "malloc"));
  state.armed = reinterpret_cast<int (*)()>(armed)() != 0;
  state.absorbed_reallocs = reinterpret_cast<Counter>(absorbed)();
  state.freed_unmaps = reinterpret_cast<Counter>(freed)();
  return state;
}

}  // namespace fxserve::backends::fpga
