// hls::stream emulation: FIFO order, sizes, depth-aware full()/write_nb(),
// non-blocking reads, and the error for reading an empty stream.
#include <gtest/gtest.h>

#include <string>

#include <ap_int.h>
#include <hls_stream.h>

namespace {

TEST(HlsStream, KeepsFifoOrder) {
  hls::stream<ap_int<12>> s("fifo");
  for (int i = 0; i < 100; ++i) s.write(i - 50);
  EXPECT_EQ(s.size(), 100u);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(s.read().to_int(), i - 50);
  EXPECT_TRUE(s.empty());
}

TEST(HlsStream, StreamOperatorsAndReadIntoReference) {
  hls::stream<int> s;
  s << 7;
  s << 8;
  int a = 0, b = 0;
  s >> a;
  s.read(b);
  EXPECT_EQ(a, 7);
  EXPECT_EQ(b, 8);
}

TEST(HlsStream, DepthBoundsFullAndNonBlockingWrite) {
  hls::stream<int, 2> s("bounded");
  EXPECT_EQ(s.capacity(), 2);
  EXPECT_TRUE(s.write_nb(1));
  EXPECT_FALSE(s.full());
  EXPECT_TRUE(s.write_nb(2));
  EXPECT_TRUE(s.full());
  EXPECT_FALSE(s.write_nb(3));
  EXPECT_EQ(s.size(), 2u);
  hls::stream<int> unbounded;
  for (int i = 0; i < 1000; ++i) unbounded.write(i);
  EXPECT_FALSE(unbounded.full());
}

TEST(HlsStream, NonBlockingReadLeavesValueWhenEmpty) {
  hls::stream<int> s;
  int value = 42;
  EXPECT_FALSE(s.read_nb(value));
  EXPECT_EQ(value, 42);
  s.write(5);
  EXPECT_TRUE(s.read_nb(value));
  EXPECT_EQ(value, 5);
}

TEST(HlsStream, ReadingEmptyStreamIsAReportedError) {
  hls::stream<int> s("layer3_to_softmax");
  try {
    (void)s.read();
    FAIL() << "reading an empty stream must throw";
  } catch (const fxhls::EmulationError& e) {
    EXPECT_NE(std::string(e.what()).find("layer3_to_softmax"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
