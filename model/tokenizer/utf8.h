// Strict UTF-8 decoding, one character at a time, for the tokenizer. Input
// text is arbitrary bytes, so invalid sequences are reported, not repaired.
#ifndef FXSERVE_MODEL_TOKENIZER_UTF8_H_
#define FXSERVE_MODEL_TOKENIZER_UTF8_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace fxserve::model {

// One character read from UTF-8 text.
struct Utf8Char {
  // The code point; meaningless when `valid` is false.
  char32_t code_point = 0;
  // Bytes consumed: 1 to 4 for a valid character, always 1 when invalid.
  int length = 1;
  // False when the byte at the position does not start a well-formed
  // sequence (Unicode Table 3-7): a stray continuation byte, a lead byte
  // without enough continuation bytes, an overlong form, a surrogate
  // (U+D800..U+DFFF) or a value above U+10FFFF.
  bool valid = false;
};

// Decodes the character starting at `text[pos]`; `pos` must be in range.
// An invalid sequence consumes exactly one byte, so the bytes after it are
// decoded afresh (a truncated sequence followed by 'a' yields the 'a').
Utf8Char DecodeUtf8Char(std::string_view text, size_t pos);

// Appends the UTF-8 encoding of `code_point` (at most U+10FFFF, not a
// surrogate) to `out`.
void AppendUtf8(char32_t code_point, std::string& out);

}  // namespace fxserve::model

#endif  // FXSERVE_MODEL_TOKENIZER_UTF8_H_
