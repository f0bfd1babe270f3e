// Writes the xclbin of a CardManifest for XRT's software emulation: an
// axlf container ("xclbin2", mode XCLBIN_SW_EMU, /usr/include/xrt/xclbin.h)
// with the sections XRT 2.13 reads in sw_emu:
//
//   EMBEDDED_METADATA  XML: each kernel, its register map (args at the
//                      manifest's offsets) and one instance per CU.
//   IP_LAYOUT          one IP_KERNEL "kernel:kernel_N" per CU (N from 1),
//                      sorted by base address.
//   MEM_TOPOLOGY       the manifest's banks (MEM_HBM for "HBM..." tags,
//                      MEM_DDR4 for "DDR..." tags).
//   CONNECTIVITY       each buffer arg of each CU -> its bank, which is what
//                      xrt::kernel::group_id() returns.
//   BITSTREAM          CardManifestToJson(manifest): opaque to XRT, which
//                      hands it to the device process as a file.
//
// Every file gets a fresh uuid, so XRT never mistakes two builds for one.
#ifndef FXSERVE_BACKENDS_FPGA_EMULATION_XCLBIN_WRITER_H_
#define FXSERVE_BACKENDS_FPGA_EMULATION_XCLBIN_WRITER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backends/fpga/emulation/card_manifest.h"

namespace fxserve::backends::fpga {

// Bytes at the start of every register map that belong to the block-level
// control protocol (ap_ctrl, GIE, IER, ISR): no argument may sit there.
inline constexpr uint32_t kControlRegisterBytes = 0x10;

// OK if the writer can turn `manifest` into an xclbin XRT accepts, else
// InvalidArgument naming the first bad field, e.g.
// "kernels[1].args[2].bank": at least one kernel; kernel and argument
// names unique C identifiers; bank tags unique, "HBM..." or "DDR...", at
// most 15 characters, sizes whole KiB; every kernel with a CU; CU register
// maps not overlapping; each argument 4-byte aligned, after the control
// registers, inside register_bytes and not overlapping another; buffer
// arguments 8 bytes wide with a valid bank; a type for every argument.
absl::Status ValidateCardManifest(const CardManifest& manifest);

// The xclbin's bytes (or the validation error).
absl::StatusOr<std::string> MakeSwEmuXclbin(const CardManifest& manifest);

// Writes MakeSwEmuXclbin(manifest) to `path` (through a temporary file
// renamed over it, so a reader never sees half a file).
absl::Status WriteSwEmuXclbin(const CardManifest& manifest,
                              const std::string& path);

}  // namespace fxserve::backends::fpga

#endif  // FXSERVE_BACKENDS_FPGA_EMULATION_XCLBIN_WRITER_H_
