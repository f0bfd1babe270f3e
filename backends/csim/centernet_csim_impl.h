// CenternetCsim for one kernel build M (weight width x scale kind): copies
// the checked layers (PackDetector, centernet_csim.cc) into the top's
// parameter block and runs the top. Included only by the per-build files
// (centernet_csim_int8_pow2.cc, ...).
#ifndef FXSERVE_BACKENDS_CSIM_CENTERNET_CSIM_IMPL_H_
#define FXSERVE_BACKENDS_CSIM_CENTERNET_CSIM_IMPL_H_

#include <cstdint>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "backends/csim/centernet_csim.h"
#include "backends/csim/centernet_csim_builds.h"
#include "kernels/top/centernet_top.h"

namespace fxserve::backends::csim {

namespace kcn = kernels::centernet;

namespace centernet_csim_internal {

// Copies values in order into an array of any rank of ap_int.
template <class T, class V>
void CopyInto(T& dst, const std::vector<V>& src, size_t& next) {
  if constexpr (std::is_array_v<T>) {
    for (auto& element : dst) CopyInto(element, src, next);
  } else {
    dst = src[next++];
  }
}
template <class T, class V>
void CopyAll(T& dst, const std::vector<V>& src) {
  size_t next = 0;
  CopyInto(dst, src, next);
}

template <class M, int I>
void FillLayer(const PackedLayer& l, kcn::LayerParams<M, I>& p) {
  constexpr kcn::LayerOp kOp = kcn::kLayers[I].op;
  if constexpr (kOp == kcn::LayerOp::kConv) {
    CopyAll(p.w, l.conv.w);
    CopyAll(p.bias, l.conv.bias);
    CopyAll(p.shift, l.conv.shift);
    CopyAll(p.mult, l.conv.mult);
    CopyAll(p.p, l.conv.p);
    CopyAll(p.f_y, l.conv.f_y);
  } else if constexpr (kOp == kcn::LayerOp::kAdd ||
                       kOp == kcn::LayerOp::kConcat) {
    CopyAll(p.f_a, l.f_a);
    CopyAll(p.f_b, l.f_b);
    CopyAll(p.f_y, l.f_y);
  } else if constexpr (kOp == kcn::LayerOp::kResize2x) {
    CopyAll(p.f_x, l.f_x);
    CopyAll(p.f_y, l.f_y);
  } else {
    CopyAll(p.w_r, l.conv.w);
    CopyAll(p.bias_r, l.conv.bias);
    CopyAll(p.shift_r, l.conv.shift);
    CopyAll(p.mult_r, l.conv.mult);
    CopyAll(p.w_z, l.expand.w);
    CopyAll(p.bias_z, l.expand.bias);
    CopyAll(p.shift_z, l.expand.shift);
    CopyAll(p.mult_z, l.expand.mult);
    CopyAll(p.f_x, l.f_x);
    CopyAll(p.f_m, l.f_m);
    CopyAll(p.p, l.p);
    CopyAll(p.f_y, l.f_y);
  }
}

template <class M, int... I>
void FillParams(const std::vector<PackedLayer>& layers,
                kcn::CenternetParams<M>& params,
                std::integer_sequence<int, I...>) {
  (FillLayer<M, I>(layers[I], params.template Layer<I>()), ...);
}

template <class M>
class CenternetCsimImpl final : public CenternetCsim {
 public:
  explicit CenternetCsimImpl(const std::vector<PackedLayer>& layers)
      : params_(std::make_unique<kcn::CenternetParams<M>>()) {
    FillParams<M>(layers, *params_,
                  std::make_integer_sequence<int, kcn::kLayerCount>{});
  }

 private:
  absl::StatusOr<model::centernet::IntDetectorOutput> RunTop(
      const uint8_t* input) const override {
    auto image = std::make_unique<kcn::pixel_t[][kcn::kInputChannels]>(
        kcn::kInputPixels);
    for (int i = 0; i < kcn::kInputPixels; ++i) {
      for (int c = 0; c < kcn::kInputChannels; ++c) {
        image[i][c] = input[i * kcn::kInputChannels + c];
      }
    }
    auto frames = std::make_unique<kcn::CenternetFrames>();
    auto keypoints =
        std::make_unique<kcn::keypoint_t[][kcn::kGrid][kcn::kClasses]>(
            kcn::kGrid);
    auto detections =
        std::make_unique<kcn::detection_t[][kernels::detect::kDetectionFields]>(
            kcn::kTopK);
    try {
      kcn::CenternetTop<M>(image.get(), *params_, *frames, keypoints.get(),
                           detections.get());
    } catch (const std::exception& e) {  // The emulated types' errors.
      return absl::InternalError(absl::StrCat(
          "the detector's top failed in C-simulation: ", e.what()));
    }
    model::centernet::IntDetectorOutput out;
    out.keypoints.reserve(size_t{kcn::kGrid} * kcn::kGrid * kcn::kClasses);
    for (int y = 0; y < kcn::kGrid; ++y) {
      for (int x = 0; x < kcn::kGrid; ++x) {
        for (int c = 0; c < kcn::kClasses; ++c) {
          out.keypoints.push_back(
              static_cast<uint16_t>(keypoints[y][x][c].to_uint()));
        }
      }
    }
    out.detections.reserve(size_t{kcn::kTopK} *
                           kernels::detect::kDetectionFields);
    for (int r = 0; r < kcn::kTopK; ++r) {
      for (int f = 0; f < kernels::detect::kDetectionFields; ++f) {
        out.detections.push_back(
            static_cast<int32_t>(detections[r][f].to_int()));
      }
    }
    return out;
  }

  std::unique_ptr<kcn::CenternetParams<M>> params_;
};

}  // namespace centernet_csim_internal
}  // namespace fxserve::backends::csim

#endif  // FXSERVE_BACKENDS_CSIM_CENTERNET_CSIM_IMPL_H_
