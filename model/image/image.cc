#include "model/image/image.h"

#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <memory>

#include "absl/strings/str_cat.h"

namespace fxserve::model::image {
namespace {

bool IsJpeg(absl::Span<const uint8_t> b) {
  return b.size() >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff;
}

bool IsPng(absl::Span<const uint8_t> b) {
  static constexpr uint8_t kSignature[8] = {0x89, 'P',  'N',  'G',
                                            '\r', '\n', 0x1a, '\n'};
  return b.size() >= 8 && std::equal(kSignature, kSignature + 8, b.begin());
}

absl::Status CheckSize(int64_t width, int64_t height, const char* kind) {
  if (width < 1 || height < 1 || width * height > kMaxPixels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the ", kind, " is ", width, "x", height,
        " pixels; fxserve takes 1 to ", kMaxPixels >> 20, " Mpixel"));
  }
  return absl::OkStatus();
}

absl::StatusOr<RgbImage> DecodeJpeg(absl::Span<const uint8_t> bytes) {
  std::unique_ptr<void, int (*)(tjhandle)> tj(tjInitDecompress(), tjDestroy);
  if (tj == nullptr) return absl::InternalError("TurboJPEG did not start");
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.get(), bytes.data(), bytes.size(), &width, &height,
                          &subsampling, &colorspace) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a readable JPEG: ", tjGetErrorStr2(tj.get())));
  }
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
    return absl::InvalidArgumentError(
        "a CMYK JPEG; fxserve reads RGB and grayscale JPEGs (convert it to "
        "RGB first)");
  }
  if (absl::Status s = CheckSize(width, height, "JPEG"); !s.ok()) return s;
  RgbImage image{width, height,
                 std::vector<uint8_t>(static_cast<size_t>(width) * height * 3)};
  // Stop on warnings: a truncated JPEG is only a warning to libjpeg, which
  // fills the rest with gray.
  if (tjDecompress2(tj.get(), bytes.data(), bytes.size(), image.pixels.data(),
                    width, 0, height, TJPF_RGB,
                    TJFLAG_STOPONWARNING | TJFLAG_ACCURATEDCT) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a corrupt or truncated JPEG: ", tjGetErrorStr2(tj.get())));
  }
  return image;
}

absl::StatusOr<RgbImage> DecodePng(absl::Span<const uint8_t> bytes) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a readable PNG: ", png.message));
  }
  std::unique_ptr<png_image, void (*)(png_imagep)> cleanup(&png,
                                                           png_image_free);
  if (absl::Status s = CheckSize(png.width, png.height, "PNG"); !s.ok()) {
    return s;
  }
  png.format = PNG_FORMAT_RGB;  // Gray, palette and alpha become RGB.
  RgbImage image{static_cast<int>(png.width), static_cast<int>(png.height),
                 std::vector<uint8_t>(PNG_IMAGE_SIZE(png))};
  if (!png_image_finish_read(&png, nullptr, image.pixels.data(), 0, nullptr)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a corrupt PNG: ", png.message));
  }
  return image;
}

}  // namespace

absl::StatusOr<RgbImage> DecodeImage(absl::Span<const uint8_t> bytes) {
  if (IsJpeg(bytes)) return DecodeJpeg(bytes);
  if (IsPng(bytes)) return DecodePng(bytes);
  return absl::InvalidArgumentError(
      "not a JPEG or PNG image (by its first bytes)");
}

absl::StatusOr<RgbImage> ReadImage(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)),
                                   std::istreambuf_iterator<char>());
  absl::StatusOr<RgbImage> image = DecodeImage(bytes);
  if (!image.ok()) {
    return absl::Status(image.status().code(),
                        absl::StrCat(path, ": ", image.status().message()));
  }
  return image;
}

}  // namespace fxserve::model::image
