// fxserve-emulated-card: the device process XRT's sw_emu shim execs in
// place of Vitis' genericpciemodel (card_process.h says what it does). The
// shim may pass -debug/-ppid/-port arguments; they are ignored.
#include "backends/fpga/emulation/card/card_process.h"
#include "backends/fpga/emulation/card_runners.h"

int main() {
  return fxserve::backends::fpga::RunCardProcess(
      fxserve::backends::fpga::CreateCardKernelRunner);
}
