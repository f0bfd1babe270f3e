// What a process needs before XRT's software emulation (XCL_EMULATION_MODE=
// sw_emu, Debian's XRT 2.13) can run an fxserve xclbin: the folders and
// environment variables XRT's sw_emu shim reads, with our own device
// process (the emulated card) where the shim looks for Vitis'
// genericpciemodel, and the workaround for Debian's libxrt_swemu preloaded
// (swemu_realloc_fix.c).
//
// A program that uses it:
//
//   int main(int argc, char** argv) {
//     // First: re-executes this program with the fix preloaded if needed.
//     if (absl::Status s = EnsureSwEmuFixLoaded(argv); !s.ok()) { ... }
//     SwEmulationOptions options;
//     options.card_program = "/path/to/card";
//     options.banks = manifest.banks;
//     if (absl::Status s = PrepareSwEmulation(options); !s.ok()) { ... }
//     xrt::device device(0);  // Only now.
//     ...
//   }
#ifndef FXSERVE_BACKENDS_FPGA_EMULATION_EMULATION_ENV_H_
#define FXSERVE_BACKENDS_FPGA_EMULATION_EMULATION_ENV_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "backends/fpga/emulation/card_manifest.h"

namespace fxserve::backends::fpga {

struct SwEmulationOptions {
  // The device-process executable XRT's shim must exec (it gets the socket
  // id in $EMULATION_SOCKETID).
  std::string card_program;
  // Empty: a fresh folder under $TMPDIR (default /tmp), removed at exit
  // where possible. Else this folder (created if missing, never removed).
  std::string scratch_dir;
  // How many devices xrt::device(i) can open.
  int devices = 1;
  // One emconfig.json DdrBank per entry, in MEM_TOPOLOGY order (pass the
  // manifest's banks): the shim gives each bank its own device address
  // range. Sizes are rounded up to a power of two of at least 1 MiB (the
  // only sizes the shim parses). Empty: one 4 GiB bank.
  std::vector<BankManifest> banks;
};

// Must run before the first xrt::device. Makes, under the scratch folder:
//   xrt/lib/libxrt_{core,coreutil,swemu}.so.2  links to the folder the
//                            loaded libxrt_coreutil lives in ($XILINX_XRT)
//   vitis/data/emulation/unified/cpu_em/generic_pcie/model/genericpciemodel
//                            a link to card_program ($XILINX_VITIS)
//   emconfig/emconfig.json   devices and banks ($EMCONFIG_PATH)
//   run/                     the shim's run files ($SDACCEL_EM_RUN_DIR)
// and sets XCL_EMULATION_MODE=sw_emu and those variables, USER if unset (a
// per-process name: the shim's socket is /tmp/$USER/<id>), and unsets
// XILINX_HLS and XILINX_VIVADO (else the shim rewrites LD_LIBRARY_PATH).
// Errors name the path or option that failed.
absl::Status PrepareSwEmulation(const SwEmulationOptions& options);

// If the swemu fix library is not loaded (preloaded, ahead of malloc) in
// this process, re-executes /proc/self/exe with the same argv and with
// LD_PRELOAD=<SwEmuFixLibraryPath()> (and ASAN_OPTIONS=...:
// verify_asan_link_order=0 in an AddressSanitizer process, whose runtime
// otherwise refuses to run behind a preloaded library). Before that it
// makes the process a session leader (setsid, or a forked child that is one
// while this process waits for it and exits with its status), because the
// shim's crash handler signals its whole process group. Returns only if the
// fix is loaded (OK) or on error. Call it first in main(), with main's argv.
absl::Status EnsureSwEmuFixLoaded(char** argv);

// Where the fix library is: $FXSERVE_SWEMU_FIX if set, else
// libfxserve_swemu_fix.so next to the executable if there is one, else the
// path it was built at.
std::string SwEmuFixLibraryPath();

// What the fix library says about itself in this process.
struct SwEmuFixState {
  bool loaded = false;  // Preloaded: its malloc is the one in use.
  bool armed = false;   // It found alloc_void in a loaded libxrt_swemu.
  uint64_t absorbed_reallocs = 0;  // alloc_void reallocs it made no-ops.
  uint64_t freed_unmaps = 0;       // xclUnmapBO munmaps it made free()s.
};
SwEmuFixState GetSwEmuFixState();

}  // namespace fxserve::backends::fpga

#endif  // FXSERVE_BACKENDS_FPGA_EMULATION_EMULATION_ENV_H_
