// fxserve-make-xclbins OUT_DIR: writes the emulated card's xclbin of every
// GPT-2 kernel build, OUT_DIR/<build>.xclbin (the build runs it).
#include <cstdio>
#include <string>

#include "backends/fpga/emulation/xclbin_writer.h"
#include "backends/fpga/gpt2_card.h"

int main(int argc, char** argv) {
  namespace fpga = fxserve::backends::fpga;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  for (const std::string& build : fpga::AllGpt2Builds()) {
    const std::string path = std::string(argv[1]) + "/" + build + ".xclbin";
    const absl::Status s =
        fpga::WriteSwEmuXclbin(fpga::Gpt2CardManifest(build), path);
    if (!s.ok()) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), s.ToString().c_str());
      return 1;
    }
  }
  return 0;
}
