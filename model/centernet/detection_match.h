// How well one detector's output matches another's (a quantized detector
// against the float one), with the hysteresis of issue 14's acceptance: a
// reference detection scoring near the threshold may be missing, and a
// candidate near it counts.
#ifndef FXSERVE_MODEL_CENTERNET_DETECTION_MATCH_H_
#define FXSERVE_MODEL_CENTERNET_DETECTION_MATCH_H_

#include <string>
#include <vector>

#include "model/centernet/detector.h"

namespace fxserve::model::centernet {

struct MatchOptions {
  float threshold = 0.30f;       // Reference detections at or above.
  float may_miss_below = 0.35f;  // ... these may be missing.
  float candidate_floor = 0.25f;  // Candidates at or above count.
  float min_iou = 0.9f;           // Same class and at least this IoU.
};

struct MatchReport {
  int reference = 0;   // Reference detections at or above the threshold.
  int matched = 0;
  int excused = 0;     // Unmatched but under may_miss_below.
  int missing = 0;     // Unmatched above may_miss_below: a failure.
  float max_score_drift = 0;  // Over the matched ones.
  float min_iou = 1;          // Over the matched ones.
  std::vector<std::string> lines;  // One per reference detection.
};

// Greedy: each reference detection, best first, takes the unused candidate
// of its class with the highest IoU.
MatchReport MatchDetections(const std::vector<Detection>& reference,
                            const std::vector<Detection>& candidate,
                            const MatchOptions& options);

}  // namespace fxserve::model::centernet

#endif  // FXSERVE_MODEL_CENTERNET_DETECTION_MATCH_H_
