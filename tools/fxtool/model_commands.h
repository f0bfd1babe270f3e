// fxtool's model commands: generate, logits, perplexity, tokenize (float
// checkpoints or quantized artifacts). Each takes the positional arguments
// after the command name (flags are already parsed) and returns the process
// exit code.
#ifndef FXSERVE_TOOLS_FXTOOL_MODEL_COMMANDS_H_
#define FXSERVE_TOOLS_FXTOOL_MODEL_COMMANDS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/tokenizer/gpt2_tokenizer.h"

namespace fxserve::fxtool {

// The model folder's own tokenizer files if it has them, else the ones
// tools/install-deps.sh fetched (or $FXSERVE_TOKENIZER_DIR).
absl::StatusOr<std::unique_ptr<model::Gpt2Tokenizer>> LoadTokenizer(
    const std::string& model_dir);

int RunGenerate(const std::vector<std::string>& args);
int RunLogits(const std::vector<std::string>& args);
int RunPerplexity(const std::vector<std::string>& args);
int RunTokenize(const std::vector<std::string>& args);

}  // namespace fxserve::fxtool

#endif  // FXSERVE_TOOLS_FXTOOL_MODEL_COMMANDS_H_
