// The quantized detector (an artifact fxtool quantize made from the real
// CenterNet, calibrated on python3-skimage's photos) against the float one
// on darknet's photos, with the acceptance's hysteresis; the report is
// printed. W8A8 misses issue 14's target (every detection matched, score
// drift <= 0.03): this guards what it reaches today (NUMERICS.md,
// "Accuracy"), so a regression fails.
#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/centernet/detection_match.h"
#include "model/centernet/detector.h"
#include "model/centernet/int_reference.h"
#include "model/centernet/quantized_detector.h"
#include "model/image/image.h"

namespace fxserve::model::centernet {
namespace {

TEST(QuantizedDetector, FollowsTheFloatDetectorOnTheDarknetPhotos) {
  absl::StatusOr<QuantizedDetector> q = LoadQuantizedDetector(FXSERVE_ARTIFACT);
  ASSERT_TRUE(q.ok()) << q.status();
  absl::StatusOr<std::unique_ptr<FloatDetector>> reference =
      FloatDetector::Load(FXSERVE_CENTERNET_DIR "/centernet.json",
                          FXSERVE_CENTERNET_DIR "/coco.names");
  ASSERT_TRUE(reference.ok()) << reference.status();
  const DetectOptions options{.score_threshold = 0.25f};
  int missing_outside_kite = 0, matched = 0, total = 0;
  float drift = 0;
  for (const char* name :
       {"dog", "eagle", "giraffe", "horses", "kite", "person", "scream"}) {
    absl::StatusOr<image::RgbImage> photo = image::ReadImage(
        std::string(FXSERVE_TEST_PHOTOS_DIR "/") + name + ".jpg");
    ASSERT_TRUE(photo.ok()) << photo.status();
    absl::StatusOr<std::vector<Detection>> want =
        (*reference)->Detect(*photo, options);
    absl::StatusOr<IntDetectorOutput> out =
        RunIntReference(*q, ResizeToInput(*photo));
    ASSERT_TRUE(want.ok() && out.ok());
    const std::vector<Detection> got =
        Postprocess(DetectionRowsToFloat(out->detections), photo->width,
                    photo->height, options, q->class_names);
    const MatchReport r = MatchDetections(*want, got, {});
    std::printf("%s: %d of %d matched, %d missing, score drift %.3f\n", name,
                r.matched, r.reference, r.missing, r.max_score_drift);
    for (const std::string& line : r.lines) std::printf("  %s\n", line.c_str());
    if (std::string(name) != "kite") missing_outside_kite += r.missing;
    matched += r.matched;
    total += r.reference;
    drift = std::max(drift, r.max_score_drift);
  }
  std::printf("all: %d of %d matched, max score drift %.3f\n", matched, total,
              drift);
  EXPECT_EQ(missing_outside_kite, 0);
  EXPECT_GE(matched, 18);
  EXPECT_LE(drift, 0.18f);
}

}  // namespace
}  // namespace fxserve::model::centernet
