// What an xclbin of fxserve holds, as plain data: the build it was made
// for, the memory banks, and each kernel's compute units and register map.
// The xclbin writer turns a CardManifest into the sections XRT reads
// (EMBEDDED_METADATA, IP_LAYOUT, MEM_TOPOLOGY, CONNECTIVITY) and stores the
// manifest itself as JSON in the BITSTREAM section, which XRT treats as
// opaque; the emulated card reads that JSON to know which C-simulated
// kernels it plays and where their registers are.
#ifndef FXSERVE_BACKENDS_FPGA_EMULATION_CARD_MANIFEST_H_
#define FXSERVE_BACKENDS_FPGA_EMULATION_CARD_MANIFEST_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace fxserve::backends::fpga {

// One kernel argument in the AXI-lite register map.
struct ArgManifest {
  std::string name;
  bool is_buffer = false;  // A global memory pointer (64-bit address).
  uint32_t offset = 0;     // Byte offset in the CU's register map.
  uint32_t size = 0;       // Register bytes: 8 for a pointer, 4 for an int.
  int bank = -1;           // Index into CardManifest::banks (buffers only).
  std::string type;        // C type for the XML, e.g. "ap_uint<512>*", "int".
};

struct KernelManifest {
  std::string name;                // The C-linkage top, e.g. fxserve_gpt2_step.
  std::vector<ArgManifest> args;   // In argument order (xrt::kernel index).
  std::vector<uint64_t> cu_bases;  // One AXI-lite base address per CU.
  uint32_t register_bytes = 0x1000;  // Size of each CU's register map.
};

// One memory bank (MEM_TOPOLOGY entry), e.g. "HBM[3]".
struct BankManifest {
  std::string tag;
  uint64_t base_address = 0;
  uint64_t size_bytes = 0;
};

struct CardManifest {
  // Names the build the kernels were made for, e.g. "gpt2-tiny-w4a8-pow2":
  // the emulated card picks its C-simulation by it, the host checks it
  // against the model it loads.
  std::string build;
  std::string platform = "fxserve_emulated_u280";
  std::vector<BankManifest> banks;
  std::vector<KernelManifest> kernels;
};

// The BITSTREAM payload: JSON of the manifest (nlohmann-json).
std::string CardManifestToJson(const CardManifest& manifest);
// InvalidArgument naming the first missing or ill-typed field.
absl::StatusOr<CardManifest> ParseCardManifest(std::string_view json);

}  // namespace fxserve::backends::fpga

#endif  // FXSERVE_BACKENDS_FPGA_EMULATION_CARD_MANIFEST_H_
