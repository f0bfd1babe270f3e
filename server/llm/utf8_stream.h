// Byte-level BPE tokens (GPT-2) can split a UTF-8 character between tokens
// and can even produce bytes that are not UTF-8 at all, but clients expect
// every streamed piece to be valid UTF-8. Utf8Stream holds back an
// unfinished character until its last byte arrives and replaces invalid
// bytes with U+FFFD, as Python's errors="replace" does.
#ifndef FXSERVE_SERVER_LLM_UTF8_STREAM_H_
#define FXSERVE_SERVER_LLM_UTF8_STREAM_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace fxserve::server::llm {

// Offset of the first byte that is not part of a valid UTF-8 character
// (RFC 3629: no overlong forms, surrogates or code points past U+10FFFF),
// or nullopt if all of `text` is valid.
std::optional<size_t> FindInvalidUtf8(std::string_view text);

class Utf8Stream {
 public:
  // Appends bytes; returns the text that is now complete (maybe empty).
  std::string Push(std::string_view bytes);
  // Returns what is held back, an unfinished character as U+FFFD.
  std::string Finish();

 private:
  std::string pending_;
};

}  // namespace fxserve::server::llm

#endif  // FXSERVE_SERVER_LLM_UTF8_STREAM_H_
