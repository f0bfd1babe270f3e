// fxtool's fpga backend flags (--fpga-emulation, --xclbin, --fpga-device),
// shared by every command that creates a backend.
#ifndef FXSERVE_TOOLS_FXTOOL_FPGA_FLAGS_H_
#define FXSERVE_TOOLS_FXTOOL_FPGA_FLAGS_H_

#include "absl/status/status.h"
#include "backends/backend.h"

namespace fxserve::fxtool {

// With --fpga-emulation: sets up the emulated card (it may re-execute the
// process, so call it from main before anything else runs).
absl::Status StartFpgaFlags(char** argv);

// Emulated cards set up by StartFpgaFlags (0 without --fpga-emulation).
int EmulatedDevices();

// Copies the fpga flags (and the emulated card's xclbins) into options.
void ApplyFpgaFlags(backends::BackendOptions& options);

}  // namespace fxserve::fxtool

#endif  // FXSERVE_TOOLS_FXTOOL_FPGA_FLAGS_H_
