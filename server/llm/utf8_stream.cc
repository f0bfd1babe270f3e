#include "server/llm/utf8_stream.h"

#include <cstdint>

#include "model/tokenizer/utf8.h"

namespace fxserve::server::llm {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

enum class Scan { kValid, kInvalid, kIncomplete };

// Looks at the character starting at text[0]: valid (its length in
// *length), invalid (*length = the bytes of its longest valid beginning,
// at least 1, which become one U+FFFD as in Python), or cut off by the end
// of `text` with every byte so far allowed.
Scan ScanCharacter(std::string_view text, size_t* length) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(0);
  size_t need = 0;
  uint8_t low = 0x80, high = 0xBF;  // Allowed range of the second byte.
  if (lead < 0x80) {
    *length = 1;
    return Scan::kValid;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    need = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 3;
    if (lead == 0xE0) low = 0xA0;   // Overlong.
    if (lead == 0xED) high = 0x9F;  // Surrogates.
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 4;
    if (lead == 0xF0) low = 0x90;   // Overlong.
    if (lead == 0xF4) high = 0x8F;  // Past U+10FFFF.
  } else {
    *length = 1;
    return Scan::kInvalid;
  }
  for (size_t i = 1; i < need; ++i) {
    if (i >= text.size()) return Scan::kIncomplete;
    const uint8_t lo = i == 1 ? low : 0x80, hi = i == 1 ? high : 0xBF;
    if (byte(i) < lo || byte(i) > hi) {
      *length = i;
      return Scan::kInvalid;
    }
  }
  *length = need;
  return Scan::kValid;
}

}  // namespace

std::optional<size_t> FindInvalidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const model::Utf8Char c = model::DecodeUtf8Char(text, i);
    if (!c.valid) return i;
    i += c.length;
  }
  return std::nullopt;
}

std::string Utf8Stream::Push(std::string_view bytes) {
  pending_.append(bytes);
  std::string out;
  size_t i = 0;
  while (i < pending_.size()) {
    size_t length = 0;
    const Scan scan =
        ScanCharacter(std::string_view(pending_).substr(i), &length);
    if (scan == Scan::kIncomplete) break;
    if (scan == Scan::kInvalid) {
      out.append(kReplacement);
      i += length;
      continue;
    }
    out.append(pending_, i, length);
    i += length;
  }
  pending_.erase(0, i);
  return out;
}

std::string Utf8Stream::Finish() {
  std::string out = pending_.empty() ? "" : std::string(kReplacement);
  pending_.clear();
  return out;
}

}  // namespace fxserve::server::llm
