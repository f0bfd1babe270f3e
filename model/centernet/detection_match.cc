#include "model/centernet/detection_match.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"

namespace fxserve::model::centernet {

MatchReport MatchDetections(const std::vector<Detection>& reference,
                            const std::vector<Detection>& candidate,
                            const MatchOptions& options) {
  MatchReport report;
  std::vector<bool> used(candidate.size(), false);
  for (const Detection& r : reference) {
    if (r.score < options.threshold) continue;
    ++report.reference;
    int best = -1;
    float best_iou = 0;
    for (size_t i = 0; i < candidate.size(); ++i) {
      const Detection& c = candidate[i];
      if (used[i] || c.class_id != r.class_id ||
          c.score < options.candidate_floor) {
        continue;
      }
      const float iou = IoU(r, c);
      if (iou >= options.min_iou && iou > best_iou) {
        best = static_cast<int>(i);
        best_iou = iou;
      }
    }
    if (best < 0) {
      const bool excused = r.score < options.may_miss_below;
      ++(excused ? report.excused : report.missing);
      report.lines.push_back(absl::StrFormat(
          "%-14s %.3f  %s", r.class_name, r.score,
          excused ? "unmatched (near the threshold: allowed)" : "MISSING"));
      continue;
    }
    used[best] = true;
    ++report.matched;
    const float drift = std::abs(candidate[best].score - r.score);
    report.max_score_drift = std::max(report.max_score_drift, drift);
    report.min_iou = std::min(report.min_iou, best_iou);
    report.lines.push_back(absl::StrFormat("%-14s %.3f  -> %.3f  IoU %.3f",
                                           r.class_name, r.score,
                                           candidate[best].score, best_iou));
  }
  return report;
}

}  // namespace fxserve::model::centernet
