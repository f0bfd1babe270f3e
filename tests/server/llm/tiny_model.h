// The build's tiny GPT-2 artifact and tokenizer for the LLM serving tests,
// loaded once per test binary (FXSERVE_TEST_ARTIFACT,
// FXSERVE_TOKENIZER_DIR); a load failure aborts the binary.
#ifndef FXSERVE_TESTS_SERVER_LLM_TINY_MODEL_H_
#define FXSERVE_TESTS_SERVER_LLM_TINY_MODEL_H_

#include <cstdlib>
#include <memory>

#include "gtest/gtest.h"
#include "model/quantized_artifact.h"
#include "model/tokenizer/gpt2_tokenizer.h"

namespace fxserve::server::llm {

inline const model::QuantizedGpt2& Model() {
  static const model::QuantizedGpt2* model = [] {
    absl::StatusOr<model::QuantizedGpt2> m =
        model::LoadQuantizedGpt2(FXSERVE_TEST_ARTIFACT);
    if (!m.ok()) {
      ADD_FAILURE() << m.status();
      std::abort();
    }
    return new model::QuantizedGpt2(*std::move(m));
  }();
  return *model;
}

inline std::shared_ptr<const model::Gpt2Tokenizer> Tokenizer() {
  static const std::shared_ptr<const model::Gpt2Tokenizer> tokenizer = [] {
    absl::StatusOr<std::unique_ptr<model::Gpt2Tokenizer>> t =
        model::Gpt2Tokenizer::LoadFromDir(FXSERVE_TOKENIZER_DIR);
    if (!t.ok()) {
      ADD_FAILURE() << t.status();
      std::abort();
    }
    return std::shared_ptr<const model::Gpt2Tokenizer>(*std::move(t));
  }();
  return tokenizer;
}

}  // namespace fxserve::server::llm

#endif  // FXSERVE_TESTS_SERVER_LLM_TINY_MODEL_H_
