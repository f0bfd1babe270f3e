// fxtool detect --draw: the image with a labelled box per detection,
// written as PNG (cairo; labels in the DejaVu Sans font).
#ifndef FXSERVE_TOOLS_FXTOOL_DRAW_DETECTIONS_H_
#define FXSERVE_TOOLS_FXTOOL_DRAW_DETECTIONS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "model/centernet/detector.h"
#include "model/image/image.h"

namespace fxserve::fxtool {

// Each class keeps one colour in every picture; boxes are in the image's
// pixels. Errors name the output file.
absl::Status DrawDetections(
    const model::image::RgbImage& image,
    const std::vector<model::centernet::Detection>& detections,
    const std::string& png_path);

}  // namespace fxserve::fxtool

#endif  // FXSERVE_TOOLS_FXTOOL_DRAW_DETECTIONS_H_
