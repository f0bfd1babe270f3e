// The float ops of TF.js graph models on Tensors (NHWC), with TensorFlow's
// semantics; graph_executor.cc reads their attributes and calls them.
#ifndef FXSERVE_MODEL_TFJS_GRAPH_OPS_H_
#define FXSERVE_MODEL_TFJS_GRAPH_OPS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/tfjs/graph_model.h"

namespace fxserve::model::tfjs::ops {

enum class Padding { kSame, kValid };
enum class Activation { kNone, kRelu, kRelu6 };

struct ConvSpec {
  int stride = 1;
  Padding padding = Padding::kSame;
  bool depthwise = false;  // filter [kh, kw, in, multiplier].
  Activation activation = Activation::kNone;
};

// x [n, h, w, c], filter [kh, kw, c, out] (or depthwise [kh, kw, c, m]),
// bias [out] or empty.
absl::StatusOr<Tensor> Conv2D(const Tensor& x, const Tensor& filter,
                              const Tensor* bias, const ConvSpec& spec);

enum class Binary { kAdd, kSub, kMul, kFloorDiv, kFloorMod, kEqual };
// NumPy broadcasting; float or int32 (FloorDiv/FloorMod: int32 only,
// rounding toward negative infinity); Equal gives bool.
absl::StatusOr<Tensor> BinaryOp(Binary op, const Tensor& a, const Tensor& b);

enum class Unary { kRelu, kRelu6, kSigmoid, kIdentity };
absl::StatusOr<Tensor> UnaryOp(Unary op, const Tensor& x);

// To float32 or int32 (from bool, int32 or float32; float -> int truncates).
absl::StatusOr<Tensor> Cast(const Tensor& x, DataType to);

// Mean over `axes` (negative counts from the end).
absl::StatusOr<Tensor> Mean(const Tensor& x, const std::vector<int>& axes,
                            bool keep_dims);

absl::StatusOr<Tensor> Concat(const std::vector<const Tensor*>& parts,
                              int axis);

// align_corners=false, half_pixel_centers=false: src = dst * in / out.
absl::StatusOr<Tensor> ResizeBilinear(const Tensor& x, int out_h, int out_w);

// 3x3-style max pooling over h and w; SAME pads with -infinity.
absl::StatusOr<Tensor> MaxPool(const Tensor& x, int kernel, int stride,
                               Padding padding);

absl::StatusOr<Tensor> Reshape(const Tensor& x,
                               const std::vector<int64_t>& shape);
absl::StatusOr<Tensor> ExpandDims(const Tensor& x, int axis);

struct SliceSpec {
  std::vector<int64_t> begin, end, strides;
  int begin_mask = 0, end_mask = 0, shrink_axis_mask = 0;
};
absl::StatusOr<Tensor> StridedSlice(const Tensor& x, const SliceSpec& spec);

// params gathered along `axis` by int32 `indices` (batch_dims 0).
absl::StatusOr<Tensor> Gather(const Tensor& params, const Tensor& indices,
                              int axis);

// The k largest along the last axis, sorted, ties to the lower index:
// {values, int32 indices}.
absl::StatusOr<std::pair<Tensor, Tensor>> TopK(const Tensor& x, int k);

}  // namespace fxserve::model::tfjs::ops

#endif  // FXSERVE_MODEL_TFJS_GRAPH_OPS_H_
