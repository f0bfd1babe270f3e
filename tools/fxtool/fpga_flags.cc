#include "tools/fxtool/fpga_flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "backends/fpga/emulation/fpga_emulation.h"

ABSL_FLAG(bool, fpga_emulation, false,
          "--backend fpga: run on fxserve's emulated card through XRT's "
          "software emulation (no card needed; slow: a C-simulation).");
ABSL_FLAG(std::string, xclbin, "",
          "--backend fpga: the xclbin to load (default with "
          "--fpga-emulation: the build's xclbin for the model).");
ABSL_FLAG(int, fpga_device, 0, "--backend fpga: XRT device index.");

namespace fxserve::fxtool {
namespace {

std::string& EmulatedXclbinDir() {
  static std::string dir;
  return dir;
}

}  // namespace

absl::Status StartFpgaFlags(char** argv) {
  if (!absl::GetFlag(FLAGS_fpga_emulation)) return absl::OkStatus();
  auto xclbins = backends::fpga::StartFpgaEmulation(argv, {});
  if (!xclbins.ok()) return xclbins.status();
  EmulatedXclbinDir() = *xclbins;
  return absl::OkStatus();
}

int EmulatedDevices() { return EmulatedXclbinDir().empty() ? 0 : 1; }

void ApplyFpgaFlags(backends::BackendOptions& options) {
  options.xclbin = absl::GetFlag(FLAGS_xclbin);
  options.xclbin_dir = EmulatedXclbinDir();
  options.fpga_device = absl::GetFlag(FLAGS_fpga_device);
}

}  // namespace fxserve::fxtool
