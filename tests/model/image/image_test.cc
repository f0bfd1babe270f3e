// JPEG and PNG decoding: the darknet photos and images made here decode
// to the right size and colours; every kind of bad file is a clear error.
#include "model/image/image.h"

#include <png.h>
#include <turbojpeg.h>
#include <zlib.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fxserve::model::image {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file),
          std::istreambuf_iterator<char>()};
}

std::string Photo(const char* name) {
  return std::string(FXSERVE_TEST_PHOTOS_DIR) + "/" + name;
}

// A JPEG of `pixels` (w x h, in `format`) made with TurboJPEG.
std::vector<uint8_t> MakeJpeg(const std::vector<uint8_t>& pixels, int w, int h,
                              int format, int subsampling) {
  tjhandle tj = tjInitCompress();
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  EXPECT_EQ(tjCompress2(tj, pixels.data(), w, 0, h, format, &jpeg, &size,
                        subsampling, 95, 0),
            0)
      << tjGetErrorStr2(tj);
  std::vector<uint8_t> bytes(jpeg, jpeg + size);
  tjFree(jpeg);
  tjDestroy(tj);
  return bytes;
}

std::vector<uint8_t> MakePng(const std::vector<uint8_t>& pixels, int w, int h,
                             uint32_t format) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = w;
  png.height = h;
  png.format = format;
  png_alloc_size_t size = 0;
  EXPECT_TRUE(
      png_image_write_get_memory_size(png, size, 0, pixels.data(), 0, nullptr));
  std::vector<uint8_t> bytes(size);
  EXPECT_TRUE(png_image_write_to_memory(&png, bytes.data(), &size, 0,
                                        pixels.data(), 0, nullptr));
  bytes.resize(size);
  return bytes;
}

TEST(Image, DecodesTheDarknetPhotos) {
  absl::StatusOr<RgbImage> dog = ReadImage(Photo("dog.jpg"));
  ASSERT_TRUE(dog.ok()) << dog.status();
  EXPECT_EQ(dog->width, 768);
  EXPECT_EQ(dog->height, 576);
  EXPECT_EQ(dog->pixels.size(), 768u * 576 * 3);
  for (const char* name : {"person.jpg", "horses.jpg", "giraffe.jpg",
                           "eagle.jpg", "kite.jpg", "scream.jpg"}) {
    EXPECT_TRUE(ReadImage(Photo(name)).ok()) << name;
  }
}

TEST(Image, GrayscaleBecomesRgb) {
  const std::vector<uint8_t> gray = {0, 64, 128, 255};
  for (const std::vector<uint8_t>& bytes :
       {MakeJpeg(gray, 2, 2, TJPF_GRAY, TJSAMP_GRAY),
        MakePng(gray, 2, 2, PNG_FORMAT_GRAY)}) {
    absl::StatusOr<RgbImage> image = DecodeImage(bytes);
    ASSERT_TRUE(image.ok()) << image.status();
    ASSERT_EQ(image->pixels.size(), 12u);
    for (int p = 0; p < 4; ++p) {
      EXPECT_EQ(image->pixels[3 * p], image->pixels[3 * p + 1]);
      EXPECT_EQ(image->pixels[3 * p], image->pixels[3 * p + 2]);
      EXPECT_NEAR(image->pixels[3 * p], gray[p], 8);  // JPEG is lossy.
    }
  }
}

TEST(Image, PngIsLossless) {
  const std::vector<uint8_t> rgb = {255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 8, 7};
  absl::StatusOr<RgbImage> image =
      DecodeImage(MakePng(rgb, 2, 2, PNG_FORMAT_RGB));
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->pixels, rgb);
  absl::StatusOr<RgbImage> one =
      DecodeImage(MakePng({1, 2, 3}, 1, 1, PNG_FORMAT_RGB));
  ASSERT_TRUE(one.ok()) << one.status();  // Tiny, but an image.
  EXPECT_EQ(one->width, 1);
}

TEST(Image, BadFilesAreClearErrors) {
  const std::vector<uint8_t> dog = ReadBytes(Photo("dog.jpg"));
  ASSERT_GT(dog.size(), 1000u);
  std::vector<uint8_t> truncated(dog.begin(), dog.begin() + dog.size() / 2);

  std::vector<uint8_t> huge = dog;  // SOF0's height and width -> 20000.
  for (size_t i = 0; i + 8 < huge.size(); ++i) {
    if (huge[i] == 0xff && (huge[i + 1] == 0xc0 || huge[i + 1] == 0xc2)) {
      huge[i + 5] = huge[i + 7] = 20000 >> 8;
      huge[i + 6] = huge[i + 8] = 20000 & 0xff;
      break;
    }
  }
  std::vector<uint8_t> cmyk_pixels(4 * 4 * 4, 100);
  std::vector<uint8_t> png = MakePng({1, 2, 3, 4, 5, 6}, 2, 1, PNG_FORMAT_RGB);
  std::vector<uint8_t> bad_crc = png;
  bad_crc[8 + 8 + 13] ^= 0xff;  // IHDR's CRC.

  // A PNG whose IHDR (with a right CRC) says 20000 x 20000.
  std::vector<uint8_t> big_png(png.begin(), png.begin() + 8);
  const uint8_t ihdr[] = {'I', 'H',  'D',  'R', 0, 0, 0x4e, 0x20, 0,
                          0,   0x4e, 0x20, 8,   2, 0, 0,    0};
  const uint32_t crc = crc32(0, ihdr, sizeof(ihdr));
  for (uint8_t b : {0, 0, 0, 13}) big_png.push_back(b);
  big_png.insert(big_png.end(), ihdr, ihdr + sizeof(ihdr));
  for (int s = 24; s >= 0; s -= 8) big_png.push_back(crc >> s & 0xff);
  big_png.insert(big_png.end(), png.begin() + 33, png.end());

  const struct {
    std::vector<uint8_t> bytes;
    const char* expected;
  } cases[] = {
      {truncated, "corrupt or truncated JPEG"},
      {huge, "20000x20000"},
      {MakeJpeg(cmyk_pixels, 4, 4, TJPF_CMYK, TJSAMP_444), "CMYK"},
      {bad_crc, "PNG"},
      {big_png, "20000x20000"},
      {{'G', 'I', 'F', '8', '9', 'a'}, "not a JPEG or PNG"},
      {{}, "not a JPEG or PNG"},
      {{0xff, 0xd8, 0xff}, "0x0 pixels"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<RgbImage> image = DecodeImage(c.bytes);
    ASSERT_FALSE(image.ok()) << c.expected;
    EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(image.status().message(), HasSubstr(c.expected));
  }
  EXPECT_THAT(ReadImage("/nonexistent.jpg").status().message(),
              HasSubstr("/nonexistent.jpg"));
}

}  // namespace
}  // namespace fxserve::model::image
