// What XRT sees, as plain data, for `fxtool devices`: the devices (cards,
// or emulated cards under --fpga-emulation) and an xclbin's kernels,
// compute units, arguments and memory banks, read with XRT's own parser.
#ifndef FXSERVE_BACKENDS_FPGA_FPGA_INVENTORY_H_
#define FXSERVE_BACKENDS_FPGA_FPGA_INVENTORY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fxserve::backends::fpga {

struct DeviceInfo {
  int index = 0;
  std::string name;
  std::string bdf;  // PCIe address (empty when XRT reports none).
};

// Every card XRT enumerates (none is not an error: an empty list), or,
// under emulation (XRT enumerates no emulated device), devices 0 ..
// emulated_devices - 1.
absl::StatusOr<std::vector<DeviceInfo>> ListDevices(int emulated_devices = 0);

struct XclbinArgInfo {
  std::string name;
  uint64_t offset = 0;
  uint64_t size = 0;
  std::string type;
  std::vector<std::string> banks;  // Memory tags it may use.
};

struct XclbinKernelInfo {
  std::string name;
  std::vector<XclbinArgInfo> args;
  std::vector<std::string> compute_units;  // "name @ 0xbase".
};

struct XclbinInfo {
  std::string path;
  std::string target;    // hw, hw_emu or sw_emu.
  std::string platform;  // The XSA name.
  std::vector<XclbinKernelInfo> kernels;
  std::vector<std::string> banks;  // "tag: size".
};

// InvalidArgument when XRT cannot parse the file.
absl::StatusOr<XclbinInfo> DescribeXclbin(const std::string& path);

}  // namespace fxserve::backends::fpga

#endif  // FXSERVE_BACKENDS_FPGA_FPGA_INVENTORY_H_
