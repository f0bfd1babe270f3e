// TensorFlow's SAME padding, at compile time: an input of n along one axis,
// a k-tap kernel and stride s give ceil(n / s) outputs and
// pad_before = max(0, (ceil(n / s) - 1) * s + k - n) / 2 (rounded down),
// the rest after. For k = 1 nothing is padded, which is VALID as well.
#ifndef FXSERVE_KERNELS_CONV_SAME_PADDING_H_
#define FXSERVE_KERNELS_CONV_SAME_PADDING_H_

namespace fxserve::kernels {

// One axis.
template <int kIn, int kKernel, int kStride>
struct SamePadding {
  static_assert(kIn >= 1 && kKernel >= 1 && kStride >= 1, "positive sizes");
  static constexpr int kOut = (kIn + kStride - 1) / kStride;
  static constexpr int kTotal = (kOut - 1) * kStride + kKernel - kIn > 0
                                    ? (kOut - 1) * kStride + kKernel - kIn
                                    : 0;
  static constexpr int kBefore = kTotal / 2;
};

// A k x k, stride s window over an H x W map.
template <int kH, int kW, int kK, int kS>
struct SameConvGeometry {
  static constexpr int kHeight = kH;
  static constexpr int kWidth = kW;
  static constexpr int kKernel = kK;
  static constexpr int kStride = kS;
  static constexpr int kOutHeight = SamePadding<kH, kK, kS>::kOut;
  static constexpr int kOutWidth = SamePadding<kW, kK, kS>::kOut;
  static constexpr int kPadTop = SamePadding<kH, kK, kS>::kBefore;
  static constexpr int kPadLeft = SamePadding<kW, kK, kS>::kBefore;
};

}  // namespace fxserve::kernels

#endif  // FXSERVE_KERNELS_CONV_SAME_PADDING_H_
