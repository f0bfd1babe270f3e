// fxtool devices: the FPGA devices XRT sees (cards, or the emulated card
// with --fpga-emulation), and an xclbin's kernels, compute units,
// arguments and memory banks (--xclbin FILE; with --fpga-emulation and no
// --xclbin, every xclbin of the emulation kit).
#ifndef FXSERVE_TOOLS_FXTOOL_DEVICES_COMMAND_H_
#define FXSERVE_TOOLS_FXTOOL_DEVICES_COMMAND_H_

#include <string>
#include <vector>

namespace fxserve::fxtool {

int RunDevices(const std::vector<std::string>& args);

}  // namespace fxserve::fxtool

#endif  // FXSERVE_TOOLS_FXTOOL_DEVICES_COMMAND_H_
