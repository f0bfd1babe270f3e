// fxtool quantize: float GPT-2 folder + calibration text -> fxserve model
// artifact (tools/quantize/gpt2_quantizer.h, model/quantized_artifact.h).
#ifndef FXSERVE_TOOLS_FXTOOL_QUANTIZE_COMMAND_H_
#define FXSERVE_TOOLS_FXTOOL_QUANTIZE_COMMAND_H_

#include <string>
#include <vector>

namespace fxserve::fxtool {

int RunQuantize(const std::vector<std::string>& args);

}  // namespace fxserve::fxtool

#endif  // FXSERVE_TOOLS_FXTOOL_QUANTIZE_COMMAND_H_
