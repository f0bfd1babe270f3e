// fxtool's model commands (float reference): generate, logits, perplexity,
// tokenize. Each takes the positional arguments after the command name
// (flags are already parsed) and returns the process exit code.
#ifndef FXSERVE_TOOLS_FXTOOL_MODEL_COMMANDS_H_
#define FXSERVE_TOOLS_FXTOOL_MODEL_COMMANDS_H_

#include <string>
#include <vector>

namespace fxserve::fxtool {

int RunGenerate(const std::vector<std::string>& args);
int RunLogits(const std::vector<std::string>& args);
int RunPerplexity(const std::vector<std::string>& args);
int RunTokenize(const std::vector<std::string>& args);

}  // namespace fxserve::fxtool

#endif  // FXSERVE_TOOLS_FXTOOL_MODEL_COMMANDS_H_
