#include "backends/fpga/emulation/fpga_emulation.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "backends/fpga/emulation/emulation_env.h"
#include "backends/fpga/gpt2_card.h"

namespace fxserve::backends::fpga {
namespace {

namespace fs = std::filesystem;

constexpr char kCardProgram[] = "fxserve-emulated-card";
constexpr char kFixLibrary[] = "libfxserve_swemu_fix.so";

absl::Status Missing(const fs::path& path, const std::string& what) {
  return absl::NotFoundError(absl::StrCat(
      "the FPGA emulation kit has no ", what, " at ", path.string(),
      ": build the project (cmake --build), or point "
      "FXSERVE_FPGA_EMULATION_DIR at a kit folder"));
}

}  // namespace

std::string DefaultEmulationKitDir() {
  if (const char* dir = std::getenv("FXSERVE_FPGA_EMULATION_DIR")) return dir;
  std::error_code error;
  const fs::path beside =
      fs::read_symlink("/proc/self/exe", error).parent_path() /
      "fpga-emulation";
  if (!error && fs::is_directory(beside, error)) return beside.string();
  return FXSERVE_FPGA_EMULATION_KIT_DIR;
}

absl::StatusOr<std::string> StartFpgaEmulation(
    char** argv, const FpgaEmulationOptions& options) {
  const fs::path kit =
      options.kit_dir.empty() ? DefaultEmulationKitDir() : options.kit_dir;
  const fs::path card = kit / kCardProgram, fix = kit / kFixLibrary,
                 xclbins = kit / "xclbin";
  std::error_code error;
  if (!fs::is_regular_file(card, error)) return Missing(card, "card program");
  if (!fs::is_regular_file(fix, error)) {
    return Missing(fix, "libxrt_swemu fix library");
  }
  if (!fs::is_directory(xclbins, error)) return Missing(xclbins, "xclbins");
  // The re-executed process finds the same library through the variable.
  setenv("FXSERVE_SWEMU_FIX", fix.c_str(), /*overwrite=*/0);
  if (absl::Status s = EnsureSwEmuFixLoaded(argv); !s.ok()) return s;
  SwEmulationOptions emulation;
  emulation.card_program = card.string();
  emulation.devices = options.devices;
  emulation.banks = Gpt2CardManifest("any").banks;
  if (absl::Status s = PrepareSwEmulation(emulation); !s.ok()) return s;
  return xclbins.string();
}

}  // namespace fxserve::backends::fpga
