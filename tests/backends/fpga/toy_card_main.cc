// The device process of emulation_env_test: the project's emulated card
// (backends/fpga/emulation/card/) playing a toy kernel, vadd, so the test
// of the environment and the libxrt_swemu fix needs no GPT-2 build.
#include <cstdint>
#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "backends/fpga/emulation/card/card_process.h"
#include "backends/fpga/emulation/kernel_runner.h"

namespace fxserve::backends::fpga {
namespace {

// c[i] = a[i] + b[i] over n int32 (wrapping): args a, b, c, n.
class VaddRunner final : public KernelRunner {
 public:
  absl::Status Run(const KernelManifest& kernel,
                   absl::Span<const ArgValue> args) override {
    if (kernel.name != "vadd" || args.size() != 4) {
      return absl::NotFoundError(
          absl::StrCat("the toy card has no kernel ", kernel.name));
    }
    const uint64_t n = args[3].scalar;
    for (int i = 0; i < 3; ++i) {
      if (args[i].bytes.size() < 4 * n) {
        return absl::OutOfRangeError("vadd: a buffer is shorter than n");
      }
    }
    for (uint64_t i = 0; i < n; ++i) {
      uint32_t x, y;
      std::memcpy(&x, args[0].bytes.data() + 4 * i, 4);
      std::memcpy(&y, args[1].bytes.data() + 4 * i, 4);
      const uint32_t sum = x + y;
      std::memcpy(args[2].bytes.data() + 4 * i, &sum, 4);
    }
    return absl::OkStatus();
  }
};

}  // namespace
}  // namespace fxserve::backends::fpga

int main() {
  namespace fpga = fxserve::backends::fpga;
  return fpga::RunCardProcess(
      [](const fpga::CardManifest&)
          -> absl::StatusOr<std::unique_ptr<fpga::KernelRunner>> {
        return std::make_unique<fpga::VaddRunner>();
      });
}
