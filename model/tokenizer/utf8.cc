#include "model/tokenizer/utf8.h"

#include <cstdint>

namespace fxserve::model {
namespace {

bool IsContinuation(uint8_t byte) { return (byte & 0xC0) == 0x80; }

}  // namespace

Utf8Char DecodeUtf8Char(std::string_view text, size_t pos) {
  const auto byte_at = [&](size_t i) -> uint8_t {
    return static_cast<uint8_t>(text[i]);
  };
  const uint8_t lead = byte_at(pos);
  if (lead < 0x80) return {.code_point = lead, .length = 1, .valid = true};

  // The lead byte fixes the length and the allowed range of the second byte;
  // the narrowed ranges after E0, ED, F0 and F4 exclude overlong forms,
  // surrogates and values above U+10FFFF.
  int length = 0;
  uint8_t second_min = 0x80;
  uint8_t second_max = 0xBF;
  char32_t code_point = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code_point = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code_point = lead & 0x0F;
    if (lead == 0xE0) second_min = 0xA0;
    if (lead == 0xED) second_max = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code_point = lead & 0x07;
    if (lead == 0xF0) second_min = 0x90;
    if (lead == 0xF4) second_max = 0x8F;
  } else {
    return {};  // 80..C1 (continuation or overlong lead) or F5..FF.
  }
  if (text.size() - pos < static_cast<size_t>(length)) return {};
  const uint8_t second = byte_at(pos + 1);
  if (second < second_min || second > second_max) return {};
  code_point = (code_point << 6) | (second & 0x3F);
  for (int i = 2; i < length; ++i) {
    const uint8_t next = byte_at(pos + i);
    if (!IsContinuation(next)) return {};
    code_point = (code_point << 6) | (next & 0x3F);
  }
  return {.code_point = code_point, .length = length, .valid = true};
}

void AppendUtf8(char32_t code_point, std::string& out) {
  const auto put = [&](uint32_t bits) {
    out.push_back(static_cast<char>(bits));
  };
  if (code_point < 0x80) {
    put(code_point);
  } else if (code_point < 0x800) {
    put(0xC0 | (code_point >> 6));
    put(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    put(0xE0 | (code_point >> 12));
    put(0x80 | ((code_point >> 6) & 0x3F));
    put(0x80 | (code_point & 0x3F));
  } else {
    put(0xF0 | (code_point >> 18));
    put(0x80 | ((code_point >> 12) & 0x3F));
    put(0x80 | ((code_point >> 6) & 0x3F));
    put(0x80 | (code_point & 0x3F));
  }
}

}  // namespace fxserve::model
