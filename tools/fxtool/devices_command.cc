#include "tools/fxtool/devices_command.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "backends/backend.h"
#include "backends/fpga/fpga_inventory.h"
#include "tools/fxtool/fpga_flags.h"

namespace fxserve::fxtool {
namespace {

namespace fpga = backends::fpga;

void PrintXclbin(const fpga::XclbinInfo& info) {
  std::printf("xclbin %s (target %s, platform %s)\n", info.path.c_str(),
              info.target.c_str(), info.platform.c_str());
  for (const fpga::XclbinKernelInfo& kernel : info.kernels) {
    std::printf("  kernel %s, compute units: %s\n", kernel.name.c_str(),
                absl::StrJoin(kernel.compute_units, ", ").c_str());
    for (const fpga::XclbinArgInfo& arg : kernel.args) {
      std::printf("    arg %-8s offset 0x%02llx size %llu  %s  banks %s\n",
                  arg.name.c_str(), static_cast<unsigned long long>(arg.offset),
                  static_cast<unsigned long long>(arg.size), arg.type.c_str(),
                  absl::StrJoin(arg.banks, ",").c_str());
    }
  }
  std::printf("  memory banks: %s\n", absl::StrJoin(info.banks, "; ").c_str());
}

// The --xclbin file, or every xclbin of the emulation kit.
std::vector<std::string> XclbinsToDescribe() {
  backends::BackendOptions options;
  ApplyFpgaFlags(options);
  if (!options.xclbin.empty()) return {options.xclbin};
  std::vector<std::string> paths;
  std::error_code error;
  if (options.xclbin_dir.empty()) return paths;
  for (const auto& entry :
       std::filesystem::directory_iterator(options.xclbin_dir, error)) {
    if (entry.path().extension() == ".xclbin") {
      paths.push_back(entry.path().string());
    }
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

}  // namespace

int RunDevices(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::fprintf(stderr, "fxtool devices: unexpected argument '%s'\n",
                 args[0].c_str());
    return 2;
  }
  auto devices = fpga::ListDevices(EmulatedDevices());
  if (!devices.ok()) {
    std::fprintf(stderr, "fxtool devices: %s\n",
                 devices.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "%zu FPGA device(s)%s\n", devices->size(),
      devices->empty() ? " (use --fpga-emulation for the emulated card)" : "");
  for (const fpga::DeviceInfo& d : *devices) {
    std::printf("  [%d] %s %s\n", d.index, d.name.c_str(), d.bdf.c_str());
  }
  int status = 0;
  for (const std::string& path : XclbinsToDescribe()) {
    auto info = fpga::DescribeXclbin(path);
    if (!info.ok()) {
      std::fprintf(stderr, "fxtool devices: %s\n",
                   info.status().ToString().c_str());
      status = 1;
      continue;
    }
    PrintXclbin(*info);
  }
  return status;
}

}  // namespace fxserve::fxtool
