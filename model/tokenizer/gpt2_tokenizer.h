// GPT-2's byte-level BPE tokenizer, giving the same ids as the npm package
// gpt-3-encoder@1.1.4 (Encoder.js, a port of OpenAI's encoder.py).
#ifndef FXSERVE_MODEL_TOKENIZER_GPT2_TOKENIZER_H_
#define FXSERVE_MODEL_TOKENIZER_GPT2_TOKENIZER_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/tokenizer/gpt2_vocab.h"

namespace fxserve::model {

// Encoding: the text is split into pieces (words with their leading space,
// number runs, punctuation runs, whitespace; see gpt2_pretokenizer.h), each
// piece's UTF-8 bytes become one-byte tokens, and those are merged by the
// ranked merges of vocab.bpe (see bpe_merger.h).
//
// Text is bytes and need not be valid UTF-8. Each byte that is not part of
// a well-formed UTF-8 sequence (a stray continuation byte, a truncated
// sequence, an overlong form, a surrogate, a value above U+10FFFF) counts as
// one character that is neither letter, number nor space, like '!', and is
// encoded as that raw byte. So Decode(Encode(x)) == x for every byte string.
//
// The text "<|endoftext|>" is not special: it is encoded like any other text,
// as Encoder.js does. Only a caller puts kEndOfText into a sequence.
//
// Thread safety: after LoadFromDir, every method is const and may be called
// from any number of threads at once.
class Gpt2Tokenizer {
 public:
  static constexpr int kEndOfText = kGpt2EndOfTextId;

  // Loads OpenAI's encoder.json + vocab.bpe, or Hugging Face's vocab.json +
  // merges.txt, from `dir`. A missing, unreadable or inconsistent file gives
  // a status naming the file and what to do (see ReadGpt2Vocab).
  static absl::StatusOr<std::unique_ptr<Gpt2Tokenizer>> LoadFromDir(
      const std::string& dir);

  Gpt2Tokenizer(const Gpt2Tokenizer&) = delete;
  Gpt2Tokenizer& operator=(const Gpt2Tokenizer&) = delete;

  std::vector<int> Encode(std::string_view text) const;

  // The bytes of the tokens, concatenated. InvalidArgument, naming the id
  // and its position, if an id is outside [0, vocab_size()).
  absl::StatusOr<std::string> Decode(absl::Span<const int> ids) const;

  int vocab_size() const { return static_cast<int>(vocab_.token_bytes.size()); }

 private:
  explicit Gpt2Tokenizer(Gpt2Vocab vocab) : vocab_(std::move(vocab)) {}

  const Gpt2Vocab vocab_;
};

}  // namespace fxserve::model

#endif  // FXSERVE_MODEL_TOKENIZER_GPT2_TOKENIZER_H_
