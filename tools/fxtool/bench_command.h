// fxtool bench: prefill and batched decode speed of a quantized artifact on
// a backend, against the machine's memory bandwidth measured in the same
// run (STREAM triad).
#ifndef FXSERVE_TOOLS_FXTOOL_BENCH_COMMAND_H_
#define FXSERVE_TOOLS_FXTOOL_BENCH_COMMAND_H_

#include <string>
#include <vector>

namespace fxserve::fxtool {

int RunBench(const std::vector<std::string>& args);

}  // namespace fxserve::fxtool

#endif  // FXSERVE_TOOLS_FXTOOL_BENCH_COMMAND_H_
