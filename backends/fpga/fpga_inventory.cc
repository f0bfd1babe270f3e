#include "backends/fpga/fpga_inventory.h"

#include <exception>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "experimental/xrt_system.h"
#include "experimental/xrt_xclbin.h"
#include "xrt/xrt_device.h"

namespace fxserve::backends::fpga {
namespace {

const char* TargetName(xrt::xclbin::target_type target) {
  switch (target) {
    case xrt::xclbin::target_type::hw:
      return "hw";
    case xrt::xclbin::target_type::hw_emu:
      return "hw_emu";
    case xrt::xclbin::target_type::sw_emu:
      return "sw_emu";
  }
  return "unknown";
}

XclbinKernelInfo KernelInfo(const xrt::xclbin::kernel& kernel) {
  XclbinKernelInfo info;
  info.name = kernel.get_name();
  for (const xrt::xclbin::arg& arg : kernel.get_args()) {
    XclbinArgInfo a{arg.get_name(),
                    arg.get_offset(),
                    arg.get_size(),
                    arg.get_host_type(),
                    {}};
    for (const xrt::xclbin::mem& mem : arg.get_mems()) {
      a.banks.push_back(mem.get_tag());
    }
    info.args.push_back(std::move(a));
  }
  for (const xrt::xclbin::ip& cu : kernel.get_cus()) {
    info.compute_units.push_back(
        absl::StrCat(cu.get_name(), " @ 0x", absl::Hex(cu.get_base_address())));
  }
  return info;
}

}  // namespace

absl::StatusOr<std::vector<DeviceInfo>> ListDevices(int emulated_devices) {
  std::vector<DeviceInfo> devices;
  try {
    // XRT does not enumerate emulated devices.
    const unsigned int count = emulated_devices > 0
                                   ? emulated_devices
                                   : xrt::system::enumerate_devices();
    for (unsigned int i = 0; i < count; ++i) {
      xrt::device device(i);
      devices.push_back({static_cast<int>(i),
                         device.get_info<xrt::info::device::name>(),
                         device.get_info<xrt::info::device::bdf>()});
    }
  } catch (const std::exception& e) {
    if (devices.empty()) {
      return absl::UnavailableError(absl::StrCat(
          "XRT cannot list devices (", e.what(),
          "); install XRT and source its setup.sh for a card, or use "
          "--fpga-emulation"));
    }
  }
  return devices;
}

absl::StatusOr<XclbinInfo> DescribeXclbin(const std::string& path) {
  try {
    const xrt::xclbin xclbin(path);
    XclbinInfo info;
    info.path = path;
    info.target = TargetName(xclbin.get_target_type());
    info.platform = xclbin.get_xsa_name();
    for (const xrt::xclbin::kernel& kernel : xclbin.get_kernels()) {
      info.kernels.push_back(KernelInfo(kernel));
    }
    for (const xrt::xclbin::mem& mem : xclbin.get_mems()) {
      if (!mem.get_used()) continue;
      info.banks.push_back(
          absl::StrCat(mem.get_tag(), ": ", mem.get_size_kb() / 1024, " MiB"));
    }
    return info;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("XRT cannot read the xclbin '", path, "': ", e.what()));
  }
}

}  // namespace fxserve::backends::fpga
