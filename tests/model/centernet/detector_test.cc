// The detector's host side (threshold, class-aware NMS, boxes back to the
// source image) on made-up rows, and the float detector on darknet's
// dog.jpg: the dog, the bicycle and the car it shows, where they are.
#include "model/centernet/detector.h"

#include <cstdio>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fxserve::model::centernet {
namespace {

using ::testing::Contains;
using ::testing::Field;

const std::vector<std::string> kNames = {"person", "bicycle", "car"};

TEST(Postprocess, ThresholdNmsAndSourcePixels) {
  // Rows in 512-px coordinates, best first.
  const std::vector<float> rows = {
      0,   0,   256, 256, 0.9f, 0,  // person, top-left quarter.
      10,  10,  250, 250, 0.8f, 0,  // person, overlapping it: dropped.
      10,  10,  250, 250, 0.7f, 1,  // bicycle, same place: kept.
      -20, 300, 600, 520, 0.5f, 2,  // car, clipped to the image.
      0,   0,   10,  10,  0.2f, 2,  // below the threshold.
  };
  const std::vector<Detection> got =
      Postprocess(rows, 1024, 256, {.score_threshold = 0.3f}, kNames);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].class_name, "person");
  EXPECT_FLOAT_EQ(got[0].x2, 512);  // x * 1024/512.
  EXPECT_FLOAT_EQ(got[0].y2, 128);  // y * 256/512.
  EXPECT_EQ(got[1].class_name, "bicycle");
  EXPECT_EQ(got[2].class_name, "car");
  EXPECT_FLOAT_EQ(got[2].x1, 0);
  EXPECT_FLOAT_EQ(got[2].x2, 1024);
  EXPECT_FLOAT_EQ(got[2].y2, 256);
  // Without NMS the overlapping person stays.
  EXPECT_EQ(
      Postprocess(rows, 1024, 256,
                  {.score_threshold = 0.3f, .nms_iou = std::nullopt}, kNames)
          .size(),
      4u);
}

TEST(Postprocess, IoU) {
  const Detection a{.x1 = 0, .y1 = 0, .x2 = 2, .y2 = 2};
  const Detection b{.x1 = 1, .y1 = 0, .x2 = 3, .y2 = 2};
  EXPECT_FLOAT_EQ(IoU(a, b), 2.0f / 6.0f);
  EXPECT_FLOAT_EQ(IoU(a, a), 1.0f);
  EXPECT_FLOAT_EQ(IoU(a, {.x1 = 5, .y1 = 5, .x2 = 6, .y2 = 6}), 0.0f);
}

TEST(FloatDetector, FindsTheDogTheBicycleAndTheCar) {
  auto detector = FloatDetector::Load(
      std::string(FXSERVE_CENTERNET_DIR) + "/centernet.json",
      std::string(FXSERVE_TEST_PHOTOS_DIR) + "/coco.names");
  ASSERT_TRUE(detector.ok()) << detector.status();
  auto dog =
      image::ReadImage(std::string(FXSERVE_TEST_PHOTOS_DIR) + "/dog.jpg");
  ASSERT_TRUE(dog.ok()) << dog.status();
  auto found = (*detector)->Detect(*dog, {});
  ASSERT_TRUE(found.ok()) << found.status();
  for (const char* name : {"dog", "bicycle", "car"}) {
    EXPECT_THAT(*found, Contains(Field(&Detection::class_name, name))) << name;
  }
  for (const Detection& d : *found) {
    std::printf("dog.jpg: %s %.3f [%.0f %.0f %.0f %.0f]\n",
                d.class_name.c_str(), d.score, d.x1, d.y1, d.x2, d.y2);
    EXPECT_GE(d.score, 0.3f);
    if (d.class_name == "dog") {
      // The dog sits in the lower left of the 768x576 photo.
      EXPECT_LT(d.x2, 400) << d.x1 << " " << d.y1 << " " << d.x2 << " " << d.y2;
      EXPECT_GT(d.y1, 200);
    }
    if (d.class_name == "car") {
      EXPECT_GT(d.x1, 384);  // The right half.
    }
  }
}

TEST(FloatDetector, LoadErrorsNameTheFile) {
  auto missing =
      FloatDetector::Load("/nonexistent/centernet.json",
                          std::string(FXSERVE_TEST_PHOTOS_DIR) + "/coco.names");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/centernet.json"),
            std::string::npos);
}

}  // namespace
}  // namespace fxserve::model::centernet
