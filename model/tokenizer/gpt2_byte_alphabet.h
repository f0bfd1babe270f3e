// GPT-2's byte-level alphabet: its vocabulary files spell every byte as one
// printable code point, so that tokens are readable strings without spaces
// or control characters. Printable Latin-1 bytes ('!'..'~', U+00A1..U+00AC,
// U+00AE..U+00FF) stand for themselves; the other 68 bytes, in increasing
// order, become U+0100, U+0101, ... U+0143 (so ' ' is U+0120 'Ġ').
#ifndef FXSERVE_MODEL_TOKENIZER_GPT2_BYTE_ALPHABET_H_
#define FXSERVE_MODEL_TOKENIZER_GPT2_BYTE_ALPHABET_H_

#include <array>
#include <cstdint>

namespace fxserve::model {

inline constexpr bool Gpt2ByteIsPrintable(int byte) {
  return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) ||
         (byte >= 0xAE && byte <= 0xFF);
}

// Code point that stands for each byte.
inline constexpr std::array<char32_t, 256> kGpt2ByteToCodePoint = [] {
  std::array<char32_t, 256> table{};
  char32_t next_stand_in = 256;
  for (int byte = 0; byte < 256; ++byte) {
    table[byte] = Gpt2ByteIsPrintable(byte) ? static_cast<char32_t>(byte)
                                            : next_stand_in++;
  }
  return table;
}();

// Code points U+0000..U+0143 cover the whole alphabet.
inline constexpr int kGpt2AlphabetEnd = 256 + 68;

inline constexpr std::array<int16_t, kGpt2AlphabetEnd> kGpt2CodePointToByte =
    [] {
      std::array<int16_t, kGpt2AlphabetEnd> table{};
      table.fill(-1);
      for (int byte = 0; byte < 256; ++byte) {
        table[kGpt2ByteToCodePoint[byte]] = static_cast<int16_t>(byte);
      }
      return table;
    }();

// Byte a code point stands for, or -1 if it is not in the alphabet.
inline constexpr int Gpt2CodePointToByte(char32_t code_point) {
  return code_point < static_cast<char32_t>(kGpt2AlphabetEnd)
             ? kGpt2CodePointToByte[code_point]
             : -1;
}

}  // namespace fxserve::model

#endif  // FXSERVE_MODEL_TOKENIZER_GPT2_BYTE_ALPHABET_H_
