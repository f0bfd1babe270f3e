// What the emulated card calls when a compute unit is started: the
// C-simulation of one kernel, on the bytes of device memory. The card
// decodes the register map (CardManifest) into ArgValues; a runner never
// sees sockets or XRT.
#ifndef FXSERVE_BACKENDS_FPGA_EMULATION_KERNEL_RUNNER_H_
#define FXSERVE_BACKENDS_FPGA_EMULATION_KERNEL_RUNNER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "backends/fpga/emulation/card_manifest.h"

namespace fxserve::backends::fpga {

// One argument as the CU's registers held it at AP_START.
struct ArgValue {
  // Buffer arguments: the device allocation from the register's address to
  // the end of that allocation (empty if the address is in no allocation).
  absl::Span<uint8_t> bytes;
  uint64_t address = 0;  // Buffers: the register's 64-bit value.
  uint64_t scalar = 0;   // Scalars: the register's bytes, little-endian.
};

class KernelRunner {
 public:
  virtual ~KernelRunner() = default;
  // Runs `kernel` to completion with args in the manifest's order. An
  // error makes the card report the run as failed (and log the message).
  virtual absl::Status Run(const KernelManifest& kernel,
                           absl::Span<const ArgValue> args) = 0;
};

// Builds the runner for a manifest's build (NotFound for an unknown one).
using KernelRunnerFactory =
    std::function<absl::StatusOr<std::unique_ptr<KernelRunner>>(
        const CardManifest&)>;

}  // namespace fxserve::backends::fpga

#endif  // FXSERVE_BACKENDS_FPGA_EMULATION_KERNEL_RUNNER_H_
