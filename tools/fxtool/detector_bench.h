// fxtool bench on a detector artifact: images/s per thread count and batch
// size on --backend (cpu by default).
#ifndef FXSERVE_TOOLS_FXTOOL_DETECTOR_BENCH_H_
#define FXSERVE_TOOLS_FXTOOL_DETECTOR_BENCH_H_

#include <string>
#include <vector>

namespace fxserve::fxtool {

// `threads`: 0 = 1 and one per core; `batches`: images per batch (the CPU
// runs a batch's images in turn, each on all its threads). Exit code.
int RunDetectorBench(const std::string& dir, const std::string& backend,
                     int threads, const std::vector<int>& batches);

}  // namespace fxserve::fxtool

#endif  // FXSERVE_TOOLS_FXTOOL_DETECTOR_BENCH_H_
