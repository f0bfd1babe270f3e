// libFuzzer target: any bytes given to the image decoder (JPEG, PNG) must
// produce an image or an error status, never a crash, hang or sanitizer
// report.
#include <cstddef>
#include <cstdint>

#include "model/image/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto image = fxserve::model::image::DecodeImage({data, size});
  if (image.ok() && image->pixels.size() !=
                        static_cast<size_t>(image->width) * image->height * 3) {
    __builtin_trap();  // The decoder promised this many bytes.
  }
  return 0;
}
