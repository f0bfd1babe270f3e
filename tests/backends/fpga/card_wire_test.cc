// The emulated card's proto2 wire codec and framing (card/rpc_wire.h).
#include "backends/fpga/emulation/card/rpc_wire.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace fxserve::backends::fpga::rpc {
namespace {

std::string Bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

class SocketPair {
 public:
  SocketPair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0); }
  ~SocketPair() {
    CloseA();
    CloseB();
  }
  int a() const { return fds_[0]; }
  int b() const { return fds_[1]; }
  void CloseA() { CloseFd(fds_[0]); }
  void CloseB() { CloseFd(fds_[1]); }
  void WriteA(const std::string& bytes) {
    ASSERT_EQ(write(a(), bytes.data(), bytes.size()),
              static_cast<ssize_t>(bytes.size()));
  }

 private:
  static void CloseFd(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
  int fds_[2] = {-1, -1};
};

TEST(CardWire, VarintRoundTrips) {
  const uint64_t values[] = {0,
                             1,
                             127,
                             128,
                             300,
                             uint64_t{1} << 32,
                             uint64_t{1} << 63,
                             std::numeric_limits<uint64_t>::max()};
  for (uint64_t v : values) {
    std::string wire;
    AppendVarint(v, wire);
    size_t offset = 0;
    absl::StatusOr<uint64_t> back = ReadVarint(wire, &offset);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, v);
    EXPECT_EQ(offset, wire.size());
  }
  std::string wire;
  AppendVarint(300, wire);
  EXPECT_EQ(wire, Bytes({0xac, 0x02}));
  wire.clear();
  AppendVarint(std::numeric_limits<uint64_t>::max(), wire);
  EXPECT_EQ(wire.size(), 10u);
}

TEST(CardWire, MessageRoundTripsEveryWireType) {
  const std::string blob("a\0b", 3);
  const std::string wire = MessageWriter()
                               .Varint(1, 42)
                               .Fixed64(2, 0x0102030405060708)
                               .Fixed32(3, 0xdeadbeef)
                               .Bytes(4, blob)
                               .Bool(5, true)
                               .Bytes(8, "first")
                               .Bytes(8, "second")
                               .Varint(536870911, 7)  // The largest number.
                               .Take();
  absl::StatusOr<Message> message = Message::Parse(wire);
  ASSERT_TRUE(message.ok()) << message.status();
  EXPECT_EQ(*message->Varint(1), 42u);
  EXPECT_EQ(*message->Fixed64(2), 0x0102030405060708u);
  EXPECT_EQ(*message->Fixed32(3), 0xdeadbeefu);
  EXPECT_EQ(*message->Bytes(4), blob);
  EXPECT_EQ(*message->Varint(5), 1u);
  EXPECT_EQ(*message->Varint(536870911), 7u);
  EXPECT_EQ(*message->Bytes(8), "second");  // proto2: the last one wins.
  EXPECT_EQ(*message->RepeatedBytes(8),
            (std::vector<std::string_view>{"first", "second"}));
  EXPECT_EQ(message->fields().size(), 8u);
  // Absent fields read as their defaults.
  EXPECT_FALSE(message->Has(6));
  EXPECT_EQ(*message->Varint(6), 0u);
  EXPECT_EQ(*message->Bytes(6), "");
  EXPECT_TRUE(message->RepeatedBytes(6)->empty());
}

TEST(CardWire, KnownEncodings) {
  // Field 1 varint 1 = the acknowledgement every reply starts with.
  EXPECT_EQ(MessageWriter().Bool(1, true).Take(), Bytes({0x08, 0x01}));
  EXPECT_EQ(MessageWriter().Bytes(2, "ab").Take(),
            Bytes({0x12, 0x02, 'a', 'b'}));
  EXPECT_EQ(MessageWriter().Fixed32(2, 1).Take(), Bytes({0x15, 1, 0, 0, 0}));
}

TEST(CardWire, WrongWireTypeIsAnError) {
  const std::string wire = MessageWriter().Bytes(2, "x").Varint(3, 1).Take();
  absl::StatusOr<Message> message = Message::Parse(wire);
  ASSERT_TRUE(message.ok());
  EXPECT_EQ(message->Varint(2).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(message->Bytes(3).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(message->Fixed64(3).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(message->RepeatedBytes(3).ok());
}

TEST(CardWire, FieldReaderKeepsTheFirstError) {
  const std::string wire = MessageWriter().Bytes(2, "x").Varint(3, 9).Take();
  absl::StatusOr<Message> message = Message::Parse(wire);
  ASSERT_TRUE(message.ok());
  FieldReader ok_reader(*message);
  EXPECT_EQ(ok_reader.Bytes(2), "x");
  EXPECT_EQ(ok_reader.Varint(3), 9u);
  EXPECT_TRUE(ok_reader.status().ok());

  FieldReader reader(*message);
  EXPECT_EQ(reader.Varint(2), 0u);  // Wrong type: the first error.
  EXPECT_EQ(reader.Varint(3), 0u);  // Later reads are no-ops.
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(reader.status().message().find("field 2"), std::string::npos);
}

TEST(CardWire, MalformedMessagesAreErrors) {
  const std::pair<std::string, std::string> cases[] = {
      {"truncated key", Bytes({0x80})},
      {"truncated varint value", Bytes({0x08, 0xff})},
      {"varint over 64 bits", Bytes({0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0x02})},
      {"varint of 11 bytes", Bytes({0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                    0x80, 0x80, 0x80, 0x80, 0x00})},
      {"field number 0", Bytes({0x00, 0x01})},
      {"field number over 2^29", Bytes({0xf8, 0xff, 0xff, 0xff, 0x7f, 0x00})},
      {"start group", Bytes({0x0b})},
      {"end group", Bytes({0x0c})},
      {"wire type 6", Bytes({0x0e, 0x00})},
      {"wire type 7", Bytes({0x0f, 0x00})},
      {"truncated fixed64", Bytes({0x09, 1, 2, 3})},
      {"truncated fixed32", Bytes({0x0d, 1})},
      {"length past the end", Bytes({0x12, 0x05, 'a'})},
      {"length near 2^64", Bytes({0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0x01})},
      {"good field then garbage", Bytes({0x08, 0x01, 0x12})},
  };
  for (const auto& [name, wire] : cases) {
    absl::StatusOr<Message> message = Message::Parse(wire);
    EXPECT_EQ(message.status().code(), absl::StatusCode::kInvalidArgument)
        << name << ": " << absl::BytesToHexString(wire);
  }
}

// Every prefix and every random byte string either parses or fails
// cleanly (the sanitizer build turns any overrun into a failure).
TEST(CardWire, ArbitraryBytesNeverCrash) {
  const std::string good = MessageWriter()
                               .Varint(1, 123456789)
                               .Bytes(2, "payload")
                               .Fixed64(3, 5)
                               .Fixed32(4, 6)
                               .Take();
  for (size_t n = 0; n <= good.size(); ++n) {
    (void)Message::Parse(good.substr(0, n));
  }
  EXPECT_TRUE(Message::Parse(good).ok());
  std::mt19937 random(7);
  for (int i = 0; i < 20000; ++i) {
    std::string wire(random() % 24, '\0');
    for (char& c : wire) c = static_cast<char>(random());
    absl::StatusOr<Message> message = Message::Parse(wire);
    if (!message.ok()) continue;
    for (const Field& field : message->fields()) {
      EXPECT_LE(field.bytes.size(), wire.size());
    }
  }
}

TEST(CardWire, CallHeaderIsFourteenBytes) {
  const std::string header = EncodeCallHeader({0x0102, 7});
  EXPECT_EQ(header,
            Bytes({0x09, 0x02, 0x01, 0, 0, 0, 0, 0, 0, 0x15, 7, 0, 0, 0}));
  absl::StatusOr<CallHeader> back = DecodeCallHeader(header);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->body_bytes, 0x0102u);
  EXPECT_EQ(back->api, 7u);
  const CallHeader big{std::numeric_limits<uint64_t>::max(), 0xffffffff};
  EXPECT_EQ(EncodeCallHeader(big).size(), kCallHeaderBytes);
  EXPECT_EQ(DecodeCallHeader(EncodeCallHeader(big))->api, 0xffffffffu);
}

TEST(CardWire, MalformedCallHeadersAreErrors) {
  std::string header = EncodeCallHeader({10, 3});
  EXPECT_FALSE(DecodeCallHeader(header.substr(0, 13)).ok());
  EXPECT_FALSE(DecodeCallHeader(header + "x").ok());
  std::string bad_size_key = header;
  bad_size_key[0] = 0x08;
  EXPECT_FALSE(DecodeCallHeader(bad_size_key).ok());
  std::string bad_api_key = header;
  bad_api_key[9] = 0x10;
  EXPECT_FALSE(DecodeCallHeader(bad_api_key).ok());
}

TEST(CardWire, ReplyHeaderIsNineBytes) {
  const std::string header = EncodeReplyHeader(5);
  EXPECT_EQ(header, Bytes({0x09, 5, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(*DecodeReplyHeader(header), 5u);
  EXPECT_FALSE(DecodeReplyHeader(header.substr(1)).ok());
  EXPECT_FALSE(DecodeReplyHeader(Bytes({0x0a, 0, 0, 0, 0, 0, 0, 0, 0})).ok());
}

TEST(CardWire, CallsAndRepliesCrossASocket) {
  SocketPair pair;
  const std::string body = MessageWriter().Varint(2, 0x1000).Take();
  ASSERT_TRUE(WriteCall(pair.a(), 11, body).ok());
  absl::StatusOr<std::optional<Call>> call =
      ReadCall(pair.b(), kDefaultMaxBodyBytes, absl::Seconds(10));
  ASSERT_TRUE(call.ok()) << call.status();
  ASSERT_TRUE(call->has_value());
  EXPECT_EQ((*call)->api, 11u);
  EXPECT_EQ((*call)->body, body);

  ASSERT_TRUE(WriteReply(pair.b(), "reply").ok());
  absl::StatusOr<std::string> reply =
      ReadReply(pair.a(), kDefaultMaxBodyBytes, absl::Seconds(10));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, "reply");

  // An empty body is a valid call (xclClose from a shim with no fields).
  ASSERT_TRUE(WriteCall(pair.a(), 1, "").ok());
  call = ReadCall(pair.b(), kDefaultMaxBodyBytes, absl::Seconds(10));
  ASSERT_TRUE(call.ok() && call->has_value());
  EXPECT_EQ((*call)->body, "");
}

TEST(CardWire, EndOfStreamBetweenCallsIsClean) {
  SocketPair pair;
  pair.CloseA();
  absl::StatusOr<std::optional<Call>> call =
      ReadCall(pair.b(), kDefaultMaxBodyBytes, absl::Seconds(10));
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_FALSE(call->has_value());
}

TEST(CardWire, EndOfStreamInsideAFrameIsDataLoss) {
  {
    SocketPair pair;
    pair.WriteA(EncodeCallHeader({4, 1}).substr(0, 5));
    pair.CloseA();
    EXPECT_EQ(ReadCall(pair.b()).status().code(), absl::StatusCode::kDataLoss);
  }
  {
    SocketPair pair;
    pair.WriteA(EncodeCallHeader({4, 1}) + "ab");
    pair.CloseA();
    EXPECT_EQ(ReadCall(pair.b()).status().code(), absl::StatusCode::kDataLoss);
  }
  {
    SocketPair pair;
    pair.CloseB();
    EXPECT_EQ(ReadReply(pair.a()).status().code(), absl::StatusCode::kDataLoss);
  }
}

TEST(CardWire, OversizedOrGarbledFramesAreRefused) {
  {
    SocketPair pair;
    pair.WriteA(EncodeCallHeader({std::numeric_limits<uint64_t>::max(), 6}));
    EXPECT_EQ(ReadCall(pair.b()).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  {
    SocketPair pair;
    pair.WriteA(EncodeCallHeader({101, 6}));
    EXPECT_EQ(ReadCall(pair.b(), 100).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  {
    SocketPair pair;
    pair.WriteA(std::string(kCallHeaderBytes, 'x'));
    EXPECT_EQ(ReadCall(pair.b()).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(CardWire, ReadsTimeOutWhenNothingComes) {
  SocketPair pair;
  EXPECT_EQ(ReadCall(pair.b(), kDefaultMaxBodyBytes, absl::Milliseconds(20))
                .status()
                .code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(CardWire, WritingToAClosedPeerIsAnErrorNotSigpipe) {
  SocketPair pair;
  pair.CloseB();
  absl::Status status = WriteReply(pair.a(), std::string(1 << 16, 'x'));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace fxserve::backends::fpga::rpc
