// `--fpga-emulation` in one call: everything a program (fxserve, fxtool,
// a test) does before the FPGA backend can talk to fxserve's emulated card
// through XRT's real software-emulation path. The build puts the "kit" in
// one folder: the card program (fxserve-emulated-card), the libxrt_swemu
// fix library, and xclbin/<build>.xclbin for every kernel build.
#ifndef FXSERVE_BACKENDS_FPGA_EMULATION_FPGA_EMULATION_H_
#define FXSERVE_BACKENDS_FPGA_EMULATION_FPGA_EMULATION_H_

#include <string>

#include "absl/status/statusor.h"

namespace fxserve::backends::fpga {

// $FXSERVE_FPGA_EMULATION_DIR, else `fpga-emulation` next to the
// executable if there is one, else the build tree's.
std::string DefaultEmulationKitDir();

struct FpgaEmulationOptions {
  std::string kit_dir{};  // Empty: DefaultEmulationKitDir().
  int devices = 1;        // Emulated cards (xrt::device 0 .. devices-1).
};

// Re-executes the process once with the fix library preloaded if it is
// not (so call it first in main, with main's argv), then sets up XRT's
// software emulation with the kit's card. Returns the kit's xclbin folder
// (BackendOptions::xclbin_dir). Errors name the kit path that is missing.
absl::StatusOr<std::string> StartFpgaEmulation(
    char** argv, const FpgaEmulationOptions& options);

}  // namespace fxserve::backends::fpga

#endif  // FXSERVE_BACKENDS_FPGA_EMULATION_FPGA_EMULATION_H_
