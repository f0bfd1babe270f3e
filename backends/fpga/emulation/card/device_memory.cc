#include "backends/fpga/emulation/card/device_memory.h"

#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace fxserve::backends::fpga {
namespace {

std::string Hex(uint64_t value) { return absl::StrFormat("0x%x", value); }

}  // namespace

absl::Status DeviceMemory::CheckFree(uint64_t address, uint64_t size) const {
  auto next = allocations_.lower_bound(address);
  const bool hits_next =
      next != allocations_.end() &&
      (next->first == address || (size > 0 && next->first - address < size));
  if (hits_next) {
    return absl::AlreadyExistsError(absl::StrCat(
        "device buffer ", Hex(address), " (", size,
        " bytes) overlaps the live allocation at ", Hex(next->first)));
  }
  if (next != allocations_.begin()) {
    auto prev = std::prev(next);
    if (address - prev->first < prev->second.size) {
      return absl::AlreadyExistsError(absl::StrCat(
          "device buffer ", Hex(address), " starts inside the live allocation ",
          Hex(prev->first), " (", prev->second.size, " bytes)"));
    }
  }
  return absl::OkStatus();
}

absl::Status DeviceMemory::Allocate(uint64_t address, uint64_t size) {
  if (size > std::numeric_limits<uint64_t>::max() - address) {
    return absl::InvalidArgumentError(
        absl::StrCat("device buffer ", Hex(address), " of ", size,
                     " bytes runs past the end of the 64-bit address space"));
  }
  if (absl::Status s = CheckFree(address, size); !s.ok()) return s;
  Allocation allocation;
  allocation.size = size;
  if (size > 0) {
    allocation.data.reset(static_cast<uint8_t*>(std::calloc(size, 1)));
    if (allocation.data == nullptr) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the emulated card could not allocate ", size,
          " bytes of host memory for device buffer ", Hex(address)));
    }
  }
  allocations_.emplace(address, std::move(allocation));
  allocated_bytes_ += size;
  return absl::OkStatus();
}

absl::Status DeviceMemory::Free(uint64_t address) {
  auto it = allocations_.find(address);
  if (it == allocations_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no device buffer starts at ", Hex(address)));
  }
  allocated_bytes_ -= it->second.size;
  allocations_.erase(it);
  return absl::OkStatus();
}

const DeviceMemory::Allocation* DeviceMemory::Holding(uint64_t address,
                                                      uint64_t* offset) const {
  auto next = allocations_.upper_bound(address);
  if (next == allocations_.begin()) return nullptr;
  auto it = std::prev(next);
  *offset = address - it->first;
  return *offset < it->second.size ? &it->second : nullptr;
}

absl::Span<uint8_t> DeviceMemory::Find(uint64_t address) {
  uint64_t offset = 0;
  const Allocation* allocation = Holding(address, &offset);
  if (allocation == nullptr) return {};
  return absl::Span<uint8_t>(allocation->data.get() + offset,
                             allocation->size - offset);
}

absl::Status DeviceMemory::CheckRange(uint64_t address, uint64_t offset,
                                      uint64_t count,
                                      const Allocation& allocation) {
  if (count > allocation.size - offset) {
    return absl::OutOfRangeError(absl::StrCat(
        "a copy of ", count, " bytes at device address ", Hex(address),
        " runs past the end of its buffer (", allocation.size - offset,
        " bytes left of ", allocation.size, ")"));
  }
  return absl::OkStatus();
}

absl::Status DeviceMemory::Write(uint64_t address, std::string_view bytes) {
  if (bytes.empty()) return absl::OkStatus();
  uint64_t offset = 0;
  const Allocation* allocation = Holding(address, &offset);
  if (allocation == nullptr) {
    return absl::NotFoundError(absl::StrCat("host-to-device copy to ",
                                            Hex(address),
                                            ", which no device buffer holds"));
  }
  if (absl::Status s = CheckRange(address, offset, bytes.size(), *allocation);
      !s.ok()) {
    return s;
  }
  std::memcpy(allocation->data.get() + offset, bytes.data(), bytes.size());
  return absl::OkStatus();
}

absl::StatusOr<std::string> DeviceMemory::Read(uint64_t address,
                                               uint64_t size) const {
  if (size == 0) return std::string();
  uint64_t offset = 0;
  const Allocation* allocation = Holding(address, &offset);
  if (allocation == nullptr) {
    return absl::NotFoundError(absl::StrCat("device-to-host copy from ",
                                            Hex(address),
                                            ", which no device buffer holds"));
  }
  if (absl::Status s = CheckRange(address, offset, size, *allocation);
      !s.ok()) {
    return s;
  }
  return std::string(
      reinterpret_cast<const char*>(allocation->data.get() + offset), size);
}

}  // namespace fxserve::backends::fpga
