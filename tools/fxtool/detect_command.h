// fxtool detect: object detection on image files (see main.cc's usage).
#ifndef FXSERVE_TOOLS_FXTOOL_DETECT_COMMAND_H_
#define FXSERVE_TOOLS_FXTOOL_DETECT_COMMAND_H_

#include <string>
#include <vector>

namespace fxserve::fxtool {

// `args`: the image paths. Returns the exit code: 0, 1 if any image or the
// model failed (the other images are still run), 2 for a usage error.
int RunDetect(const std::vector<std::string>& args);

}  // namespace fxserve::fxtool

#endif  // FXSERVE_TOOLS_FXTOOL_DETECT_COMMAND_H_
