// Images for the detector: JPEG (libjpeg-turbo's TurboJPEG API) and PNG
// (libpng's simplified API) decoded to 8-bit RGB. (The resize to the
// network's input is the graph's own op, model/tfjs/graph_ops.h.)
#ifndef FXSERVE_MODEL_IMAGE_IMAGE_H_
#define FXSERVE_MODEL_IMAGE_IMAGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fxserve::model::image {

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // Row-major, 3 bytes per pixel.
};

// Larger images are refused before anything is allocated for them.
inline constexpr int64_t kMaxPixels = 64 << 20;  // 64 Mpixel.

// JPEG or PNG by its signature; grayscale and palette images become RGB,
// PNG alpha is dropped. InvalidArgument for anything else, a corrupt or
// truncated file (JPEG warnings are errors: a truncated file would
// otherwise decode as gray), CMYK JPEGs, or more than kMaxPixels.
absl::StatusOr<RgbImage> DecodeImage(absl::Span<const uint8_t> bytes);

// Reads and decodes a file; errors name it.
absl::StatusOr<RgbImage> ReadImage(const std::string& path);

}  // namespace fxserve::model::image

#endif  // FXSERVE_MODEL_IMAGE_IMAGE_H_
