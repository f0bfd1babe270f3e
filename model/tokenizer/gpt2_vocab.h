// Reads and checks GPT-2's vocabulary files: OpenAI's encoder.json +
// vocab.bpe or Hugging Face's vocab.json + merges.txt (same content).
#ifndef FXSERVE_MODEL_TOKENIZER_GPT2_VOCAB_H_
#define FXSERVE_MODEL_TOKENIZER_GPT2_VOCAB_H_

#include <array>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/tokenizer/bpe_merger.h"

namespace fxserve::model {

// GPT-2 has 256 byte tokens, 50000 merged ones and <|endoftext|> last.
inline constexpr int kGpt2EndOfTextId = 50256;
inline constexpr char kGpt2EndOfTextToken[] = "<|endoftext|>";

struct Gpt2Vocab {
  // Raw bytes of each token, by id (the files spell them in GPT-2's byte
  // alphabet, see gpt2_byte_alphabet.h).
  std::vector<std::string> token_bytes;
  // Id of the one-byte token for each byte value.
  std::array<int, 256> byte_tokens{};
  // The merges, ranked by line order.
  BpeMerger merger;
};

// Reads the vocabulary from `dir`: encoder.json + vocab.bpe if both are
// there, else vocab.json + merges.txt. Checks that the vocabulary is a JSON
// object of token -> id with ids 0..N-1, every token in the byte alphabet,
// all 256 byte tokens present, <|endoftext|> = 50256 the last id; that every
// merges line (after an optional "#version" first line; blank lines are
// skipped) is two tokens whose parts and concatenation are in the
// vocabulary, without repeats; and that N = 256 + merges + 1. Every problem
// comes back as a status naming the file, and the line for merges.
//
// Encoder.js looks ranks up by the string `first + "," + second`, so a pair
// such as ('",', '"') borrows the rank of the merge ('"', ',"'), and of
// merges that share such a string the last line wins. The merger gets those
// alias rules too (when the concatenation is a token; Encoder.js would emit
// an undefined id otherwise), so that results match Encoder.js exactly.
absl::StatusOr<Gpt2Vocab> ReadGpt2Vocab(const std::string& dir);

}  // namespace fxserve::model

#endif  // FXSERVE_MODEL_TOKENIZER_GPT2_VOCAB_H_
