// Utf8Stream holds back unfinished characters and replaces invalid bytes so
// every piece it gives out is valid UTF-8; FindInvalidUtf8 finds the first
// byte that is not.
#include "server/llm/utf8_stream.h"

#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace fxserve::server::llm {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

// Pushes `pieces` one at a time; returns each Push output, then Finish's.
std::vector<std::string> Stream(const std::vector<std::string>& pieces) {
  Utf8Stream stream;
  std::vector<std::string> out;
  for (const std::string& piece : pieces) out.push_back(stream.Push(piece));
  out.push_back(stream.Finish());
  return out;
}

std::string Joined(const std::vector<std::string>& outputs) {
  std::string all;
  for (const std::string& s : outputs) all += s;
  return all;
}

TEST(FindInvalidUtf8, ValidTextHasNoInvalidByte) {
  EXPECT_EQ(FindInvalidUtf8(""), std::nullopt);
  EXPECT_EQ(FindInvalidUtf8("hello, world"), std::nullopt);
  EXPECT_EQ(FindInvalidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            std::nullopt);
  EXPECT_EQ(FindInvalidUtf8(std::string("a\0b", 3)), std::nullopt);
  // The extremes: U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF.
  EXPECT_EQ(FindInvalidUtf8("\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80"
                            "\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF"),
            std::nullopt);
}

TEST(FindInvalidUtf8, ReportsTheFirstBadByte) {
  EXPECT_EQ(FindInvalidUtf8("ab\x80"), 2u);            // Stray continuation.
  EXPECT_EQ(FindInvalidUtf8("a\xC0\x80"), 1u);         // Overlong NUL.
  EXPECT_EQ(FindInvalidUtf8("\xC1\xBF"), 0u);          // Overlong.
  EXPECT_EQ(FindInvalidUtf8("xy\xE0\x80\x80"), 2u);    // Overlong 3-byte.
  EXPECT_EQ(FindInvalidUtf8("\xF0\x8F\xBF\xBF"), 0u);  // Overlong 4-byte.
  EXPECT_EQ(FindInvalidUtf8("\xC3\xA9\xED\xA0\x80"), 2u);  // Surrogate.
  EXPECT_EQ(FindInvalidUtf8("\xF4\x90\x80\x80"), 0u);      // Past U+10FFFF.
  EXPECT_EQ(FindInvalidUtf8("abc\xF5\x80\x80\x80"), 3u);
  EXPECT_EQ(FindInvalidUtf8("abc\xFF"), 3u);
  EXPECT_EQ(FindInvalidUtf8("abcd\xE2\x82"), 4u);  // Truncated at the end.
  EXPECT_EQ(FindInvalidUtf8("\xE2\x82z"), 0u);     // Truncated, then ASCII.
}

TEST(Utf8Stream, AsciiPassesThroughAtOnce) {
  Utf8Stream stream;
  EXPECT_EQ(stream.Push("Hello"), "Hello");
  EXPECT_EQ(stream.Push(""), "");
  EXPECT_EQ(stream.Push(", world\n"), ", world\n");
  EXPECT_EQ(stream.Finish(), "");
}

TEST(Utf8Stream, CompleteMultiByteCharactersPassThrough) {
  Utf8Stream stream;
  EXPECT_EQ(stream.Push("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(stream.Push("\xF0\x9F\x98\x80!"), "\xF0\x9F\x98\x80!");
  EXPECT_EQ(stream.Finish(), "");
}

TEST(Utf8Stream, TwoByteCharacterSplitOverTwoPushes) {
  EXPECT_EQ(Stream({"caf\xC3", "\xA9s"}),
            (std::vector<std::string>{"caf", "\xC3\xA9s", ""}));
}

TEST(Utf8Stream, ThreeByteCharacterSplitOverThreePushes) {
  EXPECT_EQ(Stream({"\xE2", "\x82", "\xAC", "5"}),
            (std::vector<std::string>{"", "", "\xE2\x82\xAC", "5", ""}));
}

TEST(Utf8Stream, FourByteCharacterSplitOverFourPushes) {
  EXPECT_EQ(Stream({"a\xF0", "\x9F", "\x98", "\x80z"}),
            (std::vector<std::string>{"a", "", "", "\xF0\x9F\x98\x80z", ""}));
}

TEST(Utf8Stream, SplitsInsideSeveralCharacters) {
  // Two characters, each split, in one run: € then 😀.
  EXPECT_EQ(
      Stream({"\xE2\x82", "\xAC\xF0\x9F", "\x98\x80"}),
      (std::vector<std::string>{"", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", ""}));
}

TEST(Utf8Stream, StrayContinuationByteIsReplaced) {
  EXPECT_EQ(Joined(Stream({"a\x80", "b"})), "a" + kFffd + "b");
  EXPECT_EQ(Stream({"\xBF"})[0], kFffd);  // Not held back.
}

TEST(Utf8Stream, OverlongFormIsReplacedAndTextSurvives) {
  const std::string out = Joined(Stream({"x\xC0\x80y"}));
  EXPECT_EQ(FindInvalidUtf8(out), std::nullopt);
  EXPECT_EQ(out.substr(0, 1), "x");
  EXPECT_EQ(out.substr(out.size() - 1), "y");
  EXPECT_NE(out.find(kFffd), std::string::npos);
  EXPECT_EQ(out.find("\xC0"), std::string::npos);
}

TEST(Utf8Stream, SurrogateIsReplacedAndTextSurvives) {
  const std::string out = Joined(Stream({"\xED\xA0", "\x80ok"}));
  EXPECT_EQ(FindInvalidUtf8(out), std::nullopt);
  EXPECT_EQ(out.substr(out.size() - 2), "ok");
  EXPECT_EQ(out.find("\xED"), std::string::npos);
  EXPECT_NE(out.find(kFffd), std::string::npos);
}

TEST(Utf8Stream, ByteF5IsReplacedAtOnce) {
  Utf8Stream stream;
  EXPECT_EQ(stream.Push("\xF5"), kFffd);  // Never a lead byte: not held.
  EXPECT_EQ(stream.Push("\xFF"
                        "a"),
            kFffd + "a");
  EXPECT_EQ(stream.Finish(), "");
}

TEST(Utf8Stream, TruncatedCharacterThenAscii) {
  Utf8Stream stream;
  EXPECT_EQ(stream.Push("\xE2\x82"), "");  // Could still become €.
  std::string out = stream.Push("A");
  out += stream.Finish();
  EXPECT_EQ(FindInvalidUtf8(out), std::nullopt);
  EXPECT_EQ(out.substr(0, 3), kFffd);
  EXPECT_EQ(out.substr(out.size() - 1), "A");
}

// Python's errors="replace" turns a maximal invalid subpart (a truncated
// character such as E2 82) into ONE U+FFFD:
// b"\xe2\x82A".decode("utf-8", "replace") == "\ufffdA". (Regression: Push
// used to replace it byte by byte.)
TEST(Utf8Stream, TruncatedCharacterIsOneReplacementLikePython) {
  EXPECT_EQ(Joined(Stream({"\xE2\x82"
                           "A"})),
            kFffd + "A");
  EXPECT_EQ(Joined(Stream({"\xF0\x9F\x98"
                           "A"})),
            kFffd + "A");
  EXPECT_EQ(Joined(Stream({"\xE2\x82"})), kFffd);  // Finish already does.
}

TEST(Utf8Stream, FinishReplacesAHeldBackPartialWithOneFffd) {
  for (const std::string& partial :
       {std::string("\xC3"), std::string("\xE2\x82"),
        std::string("\xF0\x9F\x98")}) {
    Utf8Stream stream;
    EXPECT_EQ(stream.Push("ok" + partial), "ok");
    EXPECT_EQ(stream.Finish(), kFffd);
    // The stream is empty again afterwards.
    EXPECT_EQ(stream.Finish(), "");
    EXPECT_EQ(stream.Push("z"), "z");
  }
}

TEST(Utf8Stream, RandomBytesAlwaysGiveValidUtf8) {
  std::mt19937_64 rng(77);
  // Bytes biased towards UTF-8 lead and continuation bytes, so characters
  // are often valid, split or nearly valid.
  const std::vector<unsigned char> interesting = {
      0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
      0xDF, 0xE0, 0xE2, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0x00};
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bytes;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      bytes.push_back(static_cast<char>(
          rng() % 2 ? interesting[rng() % interesting.size()] : rng() % 256));
    }
    // Split into random pieces.
    std::vector<std::string> pieces;
    for (size_t i = 0; i < bytes.size();) {
      const size_t len = 1 + rng() % 5;
      pieces.push_back(bytes.substr(i, len));
      i += len;
    }
    const std::vector<std::string> outputs = Stream(pieces);
    for (size_t i = 0; i < outputs.size(); ++i) {
      ASSERT_EQ(FindInvalidUtf8(outputs[i]), std::nullopt)
          << "trial " << trial << " piece " << i;
    }
    // The split does not change the text.
    const std::string whole = Joined(Stream({bytes}));
    ASSERT_EQ(Joined(outputs), whole) << "trial " << trial;
    // Valid input comes out unchanged.
    if (!FindInvalidUtf8(bytes).has_value()) {
      ASSERT_EQ(whole, bytes) << "trial " << trial;
    }
  }
}

TEST(Utf8Stream, ValidUtf8ComesOutUnchangedWhateverTheSplit) {
  const std::string text =
      "na\xC3\xAFve \xE2\x82\xAC"
      "5 \xF0\x9F\x98\x80 \xE4\xB8\xAD\xE6\x96\x87";
  for (size_t a = 0; a <= text.size(); ++a) {
    for (size_t b = a; b <= text.size(); ++b) {
      const std::vector<std::string> outputs =
          Stream({text.substr(0, a), text.substr(a, b - a), text.substr(b)});
      for (const std::string& out : outputs) {
        ASSERT_EQ(FindInvalidUtf8(out), std::nullopt);
      }
      ASSERT_EQ(Joined(outputs), text) << a << " " << b;
      ASSERT_EQ(outputs.back(), "");
    }
  }
}

}  // namespace
}  // namespace fxserve::server::llm
