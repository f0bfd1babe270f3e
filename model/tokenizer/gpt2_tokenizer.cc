#include "model/tokenizer/gpt2_tokenizer.h"

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/tokenizer/bpe_merger.h"
#include "model/tokenizer/gpt2_pretokenizer.h"

namespace fxserve::model {

absl::StatusOr<std::unique_ptr<Gpt2Tokenizer>> Gpt2Tokenizer::LoadFromDir(
    const std::string& dir) {
  absl::StatusOr<Gpt2Vocab> vocab = ReadGpt2Vocab(dir);
  if (!vocab.ok()) return vocab.status();
  return std::unique_ptr<Gpt2Tokenizer>(new Gpt2Tokenizer(*std::move(vocab)));
}

std::vector<int> Gpt2Tokenizer::Encode(std::string_view text) const {
  std::vector<int> ids;
  ids.reserve(text.size() / 3);
  std::vector<int> piece_tokens;
  BpeMerger::Workspace workspace;
  for (size_t begin = 0; begin < text.size();) {
    const size_t end = Gpt2PieceEnd(text, begin);
    piece_tokens.clear();
    for (size_t i = begin; i < end; ++i) {
      piece_tokens.push_back(vocab_.byte_tokens[static_cast<uint8_t>(text[i])]);
    }
    vocab_.merger.Apply(piece_tokens, workspace);
    ids.insert(ids.end(), piece_tokens.begin(), piece_tokens.end());
    begin = end;
  }
  return ids;
}

absl::StatusOr<std::string> Gpt2Tokenizer::Decode(
    absl::Span<const int> ids) const {
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) {
    const int id = ids[i];
    if (id < 0 || id >= vocab_size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token id ", id, " at position ", i,
          " is out of range: GPT-2 ids run from 0 to ", vocab_size() - 1));
    }
    text += vocab_.token_bytes[id];
  }
  return text;
}

}  // namespace fxserve::model
