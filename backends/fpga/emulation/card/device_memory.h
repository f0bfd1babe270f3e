// The emulated card's global memory: one host allocation per device buffer
// the shim allocates (xclAllocDeviceBuffer), found again by any address
// inside it. The shim picks the device addresses (per bank, aligned); the
// card only checks that allocations do not overlap and that every copy
// stays inside one allocation.
#ifndef FXSERVE_BACKENDS_FPGA_EMULATION_CARD_DEVICE_MEMORY_H_
#define FXSERVE_BACKENDS_FPGA_EMULATION_CARD_DEVICE_MEMORY_H_

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fxserve::backends::fpga {

class DeviceMemory {
 public:
  DeviceMemory() = default;
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;

  // Zero-filled `size` bytes at device address `address` (size 0 is
  // allowed: XRT sends the requested size, which may be 0). AlreadyExists
  // if it overlaps a live allocation, InvalidArgument if it wraps past
  // 2^64, ResourceExhausted if the host has no memory for it.
  absl::Status Allocate(uint64_t address, uint64_t size);
  // NotFound unless `address` is the start of a live allocation.
  absl::Status Free(uint64_t address);

  // The bytes from `address` to the end of the allocation holding it;
  // empty if no allocation holds it. Valid until that allocation is freed.
  absl::Span<uint8_t> Find(uint64_t address);

  // Host-to-device and device-to-host copies. NotFound if no allocation
  // holds `address`, OutOfRange if the copy runs past its end. A copy of 0
  // bytes always succeeds.
  absl::Status Write(uint64_t address, std::string_view bytes);
  absl::StatusOr<std::string> Read(uint64_t address, uint64_t size) const;

  size_t allocation_count() const { return allocations_.size(); }
  uint64_t allocated_bytes() const { return allocated_bytes_; }

 private:
  struct FreeDeleter {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  struct Allocation {
    uint64_t size = 0;
    // calloc: large buffers cost no memory until the host writes them.
    std::unique_ptr<uint8_t, FreeDeleter> data;
  };

  // The allocation holding `address` with its offset there; null if none.
  const Allocation* Holding(uint64_t address, uint64_t* offset) const;
  absl::Status CheckFree(uint64_t address, uint64_t size) const;
  static absl::Status CheckRange(uint64_t address, uint64_t offset,
                                 uint64_t count, const Allocation& allocation);

  std::map<uint64_t, Allocation> allocations_;  // By device address.
  uint64_t allocated_bytes_ = 0;
};

}  // namespace fxserve::backends::fpga

#endif  // FXSERVE_BACKENDS_FPGA_EMULATION_CARD_DEVICE_MEMORY_H_
