// Writes a 1-D float32 array as a NumPy .npy file (format version 1.0).
#ifndef FXSERVE_TOOLS_FXTOOL_NPY_H_
#define FXSERVE_TOOLS_FXTOOL_NPY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace fxserve::fxtool {

absl::Status WriteNpyFloat32(const std::string& path,
                             const std::vector<float>& values);

}  // namespace fxserve::fxtool

#endif  // FXSERVE_TOOLS_FXTOOL_NPY_H_
