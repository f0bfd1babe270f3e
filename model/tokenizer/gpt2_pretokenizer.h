// GPT-2's pre-tokenizer: splits text into the pieces that BPE then encodes
// one at a time. It reproduces, without a regex engine, what the JavaScript
// regex of gpt-3-encoder's Encoder.js matches:
//
//   /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+|
//   ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu
//
// Every character is a letter (\p{L}: Lu Ll Lt Lm Lo), a number (\p{N}: Nd
// Nl No), whitespace (ECMAScript's \s: U+0009..U+000D, U+0020, U+00A0,
// U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF)
// or "other". A piece is then, at each position, the first of:
//   - a lowercase ASCII contraction: 's 't 're 've 'm 'll 'd;
//   - a run of letters, of numbers or of others, with at most one ASCII
//     space (U+0020, not another kind of whitespace) in front;
//   - a run of whitespace: all of it at the end of the text; otherwise all
//     but its last character, which is left to prefix the next word if it
//     is a space ("a  b" is "a", " ", " b"); a lone whitespace character
//     that is not U+0020 ("\n" before "text") is a piece by itself.
// Pieces cover the text without gaps, so concatenating them gives it back.
//
// Invalid UTF-8 (the input is bytes; a JavaScript string cannot hold it):
// each byte that is not part of a well-formed sequence (see utf8.h) is one
// character of class "other", so "!\xFF?" is a single piece.
//
// Letters and numbers are classified by the ICU linked into fxserve (Debian
// bookworm: ICU 72, Unicode 15.0). Node's regex uses its own ICU, so the two
// can disagree only on code points assigned in later Unicode versions.
#ifndef FXSERVE_MODEL_TOKENIZER_GPT2_PRETOKENIZER_H_
#define FXSERVE_MODEL_TOKENIZER_GPT2_PRETOKENIZER_H_

#include <cstddef>
#include <string_view>
#include <vector>

namespace fxserve::model {

enum class Gpt2CharClass { kLetter, kNumber, kSpace, kOther };

// Class of a code point, as the regex above sees it.
Gpt2CharClass ClassifyGpt2CodePoint(char32_t code_point);

// End (exclusive byte offset) of the piece that starts at `begin`, which
// must be less than `text.size()`. Pieces start where the previous one ended.
size_t Gpt2PieceEnd(std::string_view text, size_t begin);

// All pieces of `text`, in order (views into `text`).
std::vector<std::string_view> SplitGpt2Pieces(std::string_view text);

}  // namespace fxserve::model

#endif  // FXSERVE_MODEL_TOKENIZER_GPT2_PRETOKENIZER_H_
