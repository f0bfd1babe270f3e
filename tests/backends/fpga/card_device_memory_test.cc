// The emulated card's device memory (card/device_memory.h).
#include "backends/fpga/emulation/card/device_memory.h"

#include <cstdint>
#include <limits>
#include <string>

#include "gtest/gtest.h"

// Under AddressSanitizer, an impossible calloc must return null as glibc's
// does, not stop the test (HugeAllocationsFailCleanly).
extern "C" const char* __asan_default_options() {
  return "allocator_may_return_null=1";
}

namespace fxserve::backends::fpga {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

TEST(CardDeviceMemory, AllocationsStartZeroedAndHoldWrites) {
  DeviceMemory memory;
  ASSERT_TRUE(memory.Allocate(0x1000, 64).ok());
  EXPECT_EQ(memory.allocation_count(), 1u);
  EXPECT_EQ(memory.allocated_bytes(), 64u);
  EXPECT_EQ(*memory.Read(0x1000, 64), std::string(64, '\0'));

  ASSERT_TRUE(memory.Write(0x1010, "abcd").ok());
  EXPECT_EQ(*memory.Read(0x100e, 8), std::string("\0\0abcd\0\0", 8));
  EXPECT_EQ(*memory.Read(0x1010, 4), "abcd");
}

TEST(CardDeviceMemory, FindReturnsTheRestOfTheAllocation) {
  DeviceMemory memory;
  ASSERT_TRUE(memory.Allocate(0x2000, 16).ok());
  ASSERT_TRUE(memory.Write(0x2004, "xy").ok());
  absl::Span<uint8_t> span = memory.Find(0x2004);
  ASSERT_EQ(span.size(), 12u);
  EXPECT_EQ(span[0], 'x');
  EXPECT_EQ(memory.Find(0x2000).size(), 16u);
  EXPECT_EQ(memory.Find(0x200f).size(), 1u);
  EXPECT_TRUE(memory.Find(0x2010).empty());  // One past the end.
  EXPECT_TRUE(memory.Find(0x1fff).empty());
  EXPECT_TRUE(memory.Find(0).empty());
  EXPECT_TRUE(memory.Find(kMax).empty());
  // Writes through the span are device memory.
  span[1] = 'z';
  EXPECT_EQ(*memory.Read(0x2004, 2), "xz");
}

TEST(CardDeviceMemory, CopiesMustStayInsideOneAllocation) {
  DeviceMemory memory;
  ASSERT_TRUE(memory.Allocate(0x1000, 16).ok());
  ASSERT_TRUE(memory.Allocate(0x1010, 16).ok());  // Adjacent.
  EXPECT_EQ(memory.Write(0x100c, "12345").code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(memory.Read(0x100c, 5).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(memory.Read(0x1000, kMax).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(memory.Write(0x100c, "1234").ok());
  EXPECT_EQ(memory.Write(0x3000, "1").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(memory.Read(0x0fff, 1).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(memory.Read(kMax, 1).status().code(), absl::StatusCode::kNotFound);
  // The failed copies changed nothing.
  EXPECT_EQ(*memory.Read(0x1010, 16), std::string(16, '\0'));
  // Zero-byte copies are always fine.
  EXPECT_TRUE(memory.Write(0x9999, "").ok());
  EXPECT_EQ(*memory.Read(0x9999, 0), "");
}

TEST(CardDeviceMemory, OverlapsAreRefused) {
  DeviceMemory memory;
  ASSERT_TRUE(memory.Allocate(0x1000, 0x100).ok());
  EXPECT_EQ(memory.Allocate(0x1000, 1).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(memory.Allocate(0x10ff, 1).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(memory.Allocate(0x0f00, 0x101).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(memory.Allocate(0x0f00, kMax - 0x0f00).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(memory.Allocate(0x0f00, 0x100).ok());  // Ends where it starts.
  EXPECT_TRUE(memory.Allocate(0x1100, 0x100).ok());
  EXPECT_EQ(memory.allocation_count(), 3u);
  EXPECT_EQ(memory.allocated_bytes(), 0x300u);
}

TEST(CardDeviceMemory, SizesThatWrapAreRefused) {
  DeviceMemory memory;
  EXPECT_EQ(memory.Allocate(kMax - 3, 8).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(memory.Allocate(kMax - 3, 3).ok());
  EXPECT_EQ(memory.Find(kMax - 1).size(), 1u);
}

TEST(CardDeviceMemory, ZeroSizeAllocationsHoldNothing) {
  DeviceMemory memory;
  ASSERT_TRUE(memory.Allocate(0x4000, 0).ok());
  EXPECT_TRUE(memory.Find(0x4000).empty());
  EXPECT_EQ(memory.Write(0x4000, "a").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(memory.Allocate(0x4000, 0).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(memory.Free(0x4000).ok());
}

TEST(CardDeviceMemory, FreeNeedsTheStartAddress) {
  DeviceMemory memory;
  ASSERT_TRUE(memory.Allocate(0x1000, 32).ok());
  EXPECT_EQ(memory.Free(0x1008).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(memory.Free(0x1000).ok());
  EXPECT_EQ(memory.Free(0x1000).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(memory.allocation_count(), 0u);
  EXPECT_EQ(memory.allocated_bytes(), 0u);
  EXPECT_TRUE(memory.Find(0x1000).empty());
  // The range can be allocated again, zeroed.
  ASSERT_TRUE(memory.Allocate(0x1000, 32).ok());
  EXPECT_EQ(*memory.Read(0x1000, 32), std::string(32, '\0'));
}

TEST(CardDeviceMemory, HugeAllocationsFailCleanly) {
  DeviceMemory memory;
  // Far more than any machine has: calloc fails, the card says so.
  EXPECT_EQ(memory.Allocate(0, uint64_t{1} << 62).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(memory.allocation_count(), 0u);
}

}  // namespace
}  // namespace fxserve::backends::fpga
