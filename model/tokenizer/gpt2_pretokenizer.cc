#include "model/tokenizer/gpt2_pretokenizer.h"

#include <unicode/uchar.h>

#include <array>
#include <cstdint>

#include "model/tokenizer/utf8.h"

namespace fxserve::model {
namespace {

struct ClassifiedChar {
  Gpt2CharClass char_class;
  int length;  // In bytes.
};

bool IsEcmaScriptSpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

// ASCII is most of the text we see; skip ICU for it.
constexpr std::array<Gpt2CharClass, 128> kAsciiClasses = [] {
  std::array<Gpt2CharClass, 128> table{};
  for (int c = 0; c < 128; ++c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      table[c] = Gpt2CharClass::kLetter;
    } else if (c >= '0' && c <= '9') {
      table[c] = Gpt2CharClass::kNumber;
    } else if ((c >= 0x09 && c <= 0x0D) || c == ' ') {
      table[c] = Gpt2CharClass::kSpace;
    } else {
      table[c] = Gpt2CharClass::kOther;
    }
  }
  return table;
}();

ClassifiedChar ClassifyAt(std::string_view text, size_t pos) {
  const auto lead = static_cast<uint8_t>(text[pos]);
  if (lead < 0x80) return {kAsciiClasses[lead], 1};
  const Utf8Char decoded = DecodeUtf8Char(text, pos);
  if (!decoded.valid) return {Gpt2CharClass::kOther, 1};
  return {ClassifyGpt2CodePoint(decoded.code_point), decoded.length};
}

// End of the run of characters of class `run_class` that starts at `pos`.
size_t RunEnd(std::string_view text, size_t pos, Gpt2CharClass run_class) {
  while (pos < text.size()) {
    const ClassifiedChar c = ClassifyAt(text, pos);
    if (c.char_class != run_class) break;
    pos += c.length;
  }
  return pos;
}

// Length of the contraction ('s 't 're 've 'm 'll 'd) at `pos`, or 0.
size_t ContractionLength(std::string_view text, size_t pos) {
  const std::string_view rest = text.substr(pos);
  if (rest.size() < 2 || rest[0] != '\'') return 0;
  switch (rest[1]) {
    case 's':
    case 't':
    case 'm':
    case 'd':
      return 2;
    default:
      break;
  }
  if (rest.size() < 3) return 0;
  const std::string_view two = rest.substr(1, 2);
  return two == "re" || two == "ve" || two == "ll" ? 3 : 0;
}

}  // namespace

Gpt2CharClass ClassifyGpt2CodePoint(char32_t code_point) {
  if (code_point < 0x80) return kAsciiClasses[code_point];
  if (IsEcmaScriptSpace(code_point)) return Gpt2CharClass::kSpace;
  switch (u_charType(static_cast<UChar32>(code_point))) {
    case U_UPPERCASE_LETTER:
    case U_LOWERCASE_LETTER:
    case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
      return Gpt2CharClass::kLetter;
    case U_DECIMAL_DIGIT_NUMBER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
      return Gpt2CharClass::kNumber;
    default:
      return Gpt2CharClass::kOther;
  }
}

size_t Gpt2PieceEnd(std::string_view text, size_t begin) {
  if (const size_t length = ContractionLength(text, begin); length > 0) {
    return begin + length;
  }
  const ClassifiedChar first = ClassifyAt(text, begin);
  if (first.char_class != Gpt2CharClass::kSpace) {
    return RunEnd(text, begin, first.char_class);
  }

  // " ?\p{L}+", " ?\p{N}+" and " ?[^\s\p{L}\p{N}]+": one ASCII space may
  // lead a run of any non-space class.
  const size_t second_pos = begin + first.length;
  if (text[begin] == ' ' && second_pos < text.size()) {
    const ClassifiedChar second = ClassifyAt(text, second_pos);
    if (second.char_class != Gpt2CharClass::kSpace) {
      return RunEnd(text, second_pos, second.char_class);
    }
  }

  // "\s+(?!\S)": the whole whitespace run if nothing but the end follows it,
  // else the run minus its last character. "\s+" catches a run of one.
  size_t last_char_pos = begin;
  size_t pos = second_pos;
  while (pos < text.size()) {
    const ClassifiedChar c = ClassifyAt(text, pos);
    if (c.char_class != Gpt2CharClass::kSpace) break;
    last_char_pos = pos;
    pos += c.length;
  }
  if (pos == text.size()) return pos;
  return last_char_pos > begin ? last_char_pos : pos;
}

std::vector<std::string_view> SplitGpt2Pieces(std::string_view text) {
  std::vector<std::string_view> pieces;
  size_t begin = 0;
  while (begin < text.size()) {
    const size_t end = Gpt2PieceEnd(text, begin);
    pieces.push_back(text.substr(begin, end - begin));
    begin = end;
  }
  return pieces;
}

}  // namespace fxserve::model
