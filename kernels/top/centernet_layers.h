// The detector's integer graph as compile-time data: the 99 layers that
// model/centernet/detector_graph.h's LowerDetector makes of the shipped
// CenterNet (MobileNetV3 backbone, 512 x 512 x 3 in, 128 x 128 heads), with
// the shape and signedness of every tensor they pass (kernels/detect/
// NUMERICS.md: "The integer graph", "Unsigned tensors"). The dataflow top
// (centernet_top.h) instantiates one unit per row; the C-simulation backend
// checks a quantized model against the table before packing it, and
// tests/model/centernet/centernet_layers_test.cc checks the table against
// LowerDetector and the contract's signedness rule, so it cannot drift.
//
// Tensors are numbered: 0 is the image, layer i writes tensor i + 1. Every
// 8-bit tensor is int8, or uint8 where is_unsigned; the two head logits
// (tensors kKeypointLogits and kWhLogits) are int16.
#ifndef FXSERVE_KERNELS_TOP_CENTERNET_LAYERS_H_
#define FXSERVE_KERNELS_TOP_CENTERNET_LAYERS_H_

namespace fxserve::kernels::centernet {

enum class LayerOp { kConv, kAdd, kSqueezeExcite, kResize2x, kConcat };
// A conv's epilogue, in the order of conv_epilogue.h's ConvEpilogue.
enum class Act { kNone, kRelu, kHardSwish, kLogits };
// A squeeze-excite gate, in the order of squeeze_excite.h's SeGate.
enum class Gate { kHardSigmoid, kSigmoid };

struct TensorSpec {
  int height, width, channels;
  bool is_unsigned;  // uint8 UQ(8, F) codes rather than int8 Q(8, F).
};

struct LayerSpec {
  LayerOp op;
  int out;             // The tensor written: layer i writes tensor i + 1.
  int in0, in1;        // The tensors read; in1 is -1 but for add and concat.
  int height, width;   // in0's map.
  int in_channels;     // in0's channels.
  int out_channels;    // out's channels.
  int kernel, stride;  // Conv: k x k taps, stride 1 or 2; otherwise 1, 1.
  bool depthwise;      // Conv: channel multiplier 1.
  Act epilogue;        // Conv; kNone otherwise.
  // Squeeze-excite (otherwise 0, kHardSigmoid, false, false): the width of
  // the reducing 1 x 1, the gate, and whether the mean m and the relu'd
  // reduction r are uint8.
  int squeeze_channels;
  Gate gate;
  bool mean_unsigned, squeeze_unsigned;
};

namespace layer_rows {

constexpr LayerSpec Conv(int out, int in, int h, int w, int cin, int cout,
                         int k, int s, Act e) {
  return {LayerOp::kConv, out,  in, -1,    h, w, cin,
          cout,           k,    s,  false, e, 0, Gate::kHardSigmoid,
          false,          false};
}
constexpr LayerSpec Depthwise(int out, int in, int h, int w, int c, int k,
                              int s, Act e) {
  return {LayerOp::kConv,     out,   in,   -1, h, w, c, c, k, s, true, e, 0,
          Gate::kHardSigmoid, false, false};
}
constexpr LayerSpec Add(int out, int a, int b, int h, int w, int c) {
  return {LayerOp::kAdd,
          out,
          a,
          b,
          h,
          w,
          c,
          c,
          1,
          1,
          false,
          Act::kNone,
          0,
          Gate::kHardSigmoid,
          false,
          false};
}
constexpr LayerSpec SqueezeExcite(int out, int in, int h, int w, int c,
                                  int squeeze, Gate g, bool mean_unsigned,
                                  bool squeeze_unsigned) {
  return {LayerOp::kSqueezeExcite,
          out,
          in,
          -1,
          h,
          w,
          c,
          c,
          1,
          1,
          false,
          Act::kNone,
          squeeze,
          g,
          mean_unsigned,
          squeeze_unsigned};
}
constexpr LayerSpec Resize2x(int out, int in, int h, int w, int c) {
  return {LayerOp::kResize2x,
          out,
          in,
          -1,
          h,
          w,
          c,
          c,
          1,
          1,
          false,
          Act::kNone,
          0,
          Gate::kHardSigmoid,
          false,
          false};
}
constexpr LayerSpec Concat(int out, int a, int b, int h, int w, int ca,
                           int cb) {
  return {LayerOp::kConcat,
          out,
          a,
          b,
          h,
          w,
          ca,
          ca + cb,
          1,
          1,
          false,
          Act::kNone,
          0,
          Gate::kHardSigmoid,
          false,
          false};
}

}  // namespace layer_rows

inline constexpr int kLayerCount = 99;
inline constexpr int kTensorCount = kLayerCount + 1;
inline constexpr int kImageTensor = 0;
inline constexpr int kKeypointLogits = 97;  // 128 x 128 x 80, Q(16, 8).
inline constexpr int kWhLogits = 99;        // 128 x 128 x 4, Q(16, 8).

// Shapes and signedness, by tensor index; each named by its TF node
// (tower_0/ and MobilenetV3/ left out).
inline constexpr TensorSpec kTensors[kTensorCount] = {
    // 0: images
    {512, 512, 3, true},
    // 1: Conv/hard_swish/mul_1
    {256, 256, 16, false},
    // 2: expanded_conv/depthwise/depthwise
    {256, 256, 16, true},
    // 3: expanded_conv/project/BatchNorm/FusedBatchNorm
    {256, 256, 16, false},
    // 4: expanded_conv/add
    {256, 256, 16, false},
    // 5: expanded_conv_1/expand/Relu
    {256, 256, 64, true},
    // 6: expanded_conv_1/depthwise/depthwise
    {128, 128, 64, true},
    // 7: expanded_conv_1/project/BatchNorm/FusedBatchNorm
    {128, 128, 24, false},
    // 8: expanded_conv_2/expand/Relu
    {128, 128, 72, true},
    // 9: expanded_conv_2/depthwise/depthwise
    {128, 128, 72, true},
    // 10: expanded_conv_2/project/BatchNorm/FusedBatchNorm
    {128, 128, 24, false},
    // 11: expanded_conv_2/add
    {128, 128, 24, false},
    // 12: expanded_conv_3/expand/Relu
    {128, 128, 72, true},
    // 13: CenternetHead/c2_reverse/1x1/Relu
    {128, 128, 18, true},
    // 14: CenternetHead/c2_reverse/3x3/separable_conv2d/depthwise
    {128, 128, 18, false},
    // 15: CenternetHead/c2_reverse/3x3/BatchNorm/FusedBatchNorm
    {128, 128, 64, true},
    // 16: expanded_conv_3/depthwise/depthwise
    {64, 64, 72, true},
    // 17: expanded_conv_3/squeeze_excite/mul
    {64, 64, 72, true},
    // 18: expanded_conv_3/project/BatchNorm/FusedBatchNorm
    {64, 64, 32, false},
    // 19: expanded_conv_4/expand/Relu
    {64, 64, 96, true},
    // 20: expanded_conv_4/depthwise/depthwise
    {64, 64, 96, true},
    // 21: expanded_conv_4/squeeze_excite/mul
    {64, 64, 96, true},
    // 22: expanded_conv_4/project/BatchNorm/FusedBatchNorm
    {64, 64, 32, false},
    // 23: expanded_conv_4/add
    {64, 64, 32, false},
    // 24: expanded_conv_5/expand/Relu
    {64, 64, 96, true},
    // 25: CenternetHead/c3_reverse/1x1/Relu
    {64, 64, 24, true},
    // 26: CenternetHead/c3_reverse/3x3/separable_conv2d/depthwise
    {64, 64, 24, false},
    // 27: CenternetHead/c3_reverse/3x3/BatchNorm/FusedBatchNorm
    {64, 64, 96, true},
    // 28: expanded_conv_5/depthwise/depthwise
    {64, 64, 96, true},
    // 29: expanded_conv_5/squeeze_excite/mul
    {64, 64, 96, true},
    // 30: expanded_conv_5/project/BatchNorm/FusedBatchNorm
    {64, 64, 32, false},
    // 31: expanded_conv_5/add
    {64, 64, 32, false},
    // 32: expanded_conv_6/expand/hard_swish/mul_1
    {64, 64, 192, false},
    // 33: expanded_conv_6/depthwise/hard_swish/mul_1
    {32, 32, 192, false},
    // 34: expanded_conv_6/project/BatchNorm/FusedBatchNorm
    {32, 32, 64, false},
    // 35: expanded_conv_7/expand/hard_swish/mul_1
    {32, 32, 160, false},
    // 36: expanded_conv_7/depthwise/hard_swish/mul_1
    {32, 32, 160, false},
    // 37: expanded_conv_7/project/BatchNorm/FusedBatchNorm
    {32, 32, 64, false},
    // 38: expanded_conv_7/add
    {32, 32, 64, false},
    // 39: expanded_conv_8/expand/hard_swish/mul_1
    {32, 32, 144, false},
    // 40: expanded_conv_8/depthwise/hard_swish/mul_1
    {32, 32, 144, false},
    // 41: expanded_conv_8/project/BatchNorm/FusedBatchNorm
    {32, 32, 64, false},
    // 42: expanded_conv_8/add
    {32, 32, 64, false},
    // 43: expanded_conv_9/expand/hard_swish/mul_1
    {32, 32, 144, false},
    // 44: expanded_conv_9/depthwise/hard_swish/mul_1
    {32, 32, 144, false},
    // 45: expanded_conv_9/project/BatchNorm/FusedBatchNorm
    {32, 32, 64, false},
    // 46: expanded_conv_9/add
    {32, 32, 64, false},
    // 47: expanded_conv_10/expand/hard_swish/mul_1
    {32, 32, 384, false},
    // 48: expanded_conv_10/depthwise/hard_swish/mul_1
    {32, 32, 384, false},
    // 49: expanded_conv_10/squeeze_excite/mul
    {32, 32, 384, false},
    // 50: expanded_conv_10/project/BatchNorm/FusedBatchNorm
    {32, 32, 88, false},
    // 51: expanded_conv_11/expand/hard_swish/mul_1
    {32, 32, 528, false},
    // 52: expanded_conv_11/depthwise/hard_swish/mul_1
    {32, 32, 528, false},
    // 53: expanded_conv_11/squeeze_excite/mul
    {32, 32, 528, false},
    // 54: expanded_conv_11/project/BatchNorm/FusedBatchNorm
    {32, 32, 88, false},
    // 55: expanded_conv_11/add
    {32, 32, 88, false},
    // 56: CenternetHead/c4_reverse/1x1/Relu
    {32, 32, 22, true},
    // 57: CenternetHead/c4_reverse/3x3/separable_conv2d/depthwise
    {32, 32, 22, false},
    // 58: CenternetHead/c4_reverse/3x3/BatchNorm/FusedBatchNorm
    {32, 32, 128, true},
    // 59: expanded_conv_12/expand/hard_swish/mul_1
    {32, 32, 528, false},
    // 60: expanded_conv_12/depthwise/hard_swish/mul_1
    {16, 16, 528, false},
    // 61: expanded_conv_12/squeeze_excite/mul
    {16, 16, 528, false},
    // 62: expanded_conv_12/project/BatchNorm/FusedBatchNorm
    {16, 16, 120, false},
    // 63: expanded_conv_13/expand/hard_swish/mul_1
    {16, 16, 720, false},
    // 64: expanded_conv_13/depthwise/hard_swish/mul_1
    {16, 16, 720, false},
    // 65: expanded_conv_13/squeeze_excite/mul
    {16, 16, 720, false},
    // 66: expanded_conv_13/project/BatchNorm/FusedBatchNorm
    {16, 16, 120, false},
    // 67: expanded_conv_13/add
    {16, 16, 120, false},
    // 68: expanded_conv_14/expand/hard_swish/mul_1
    {16, 16, 720, false},
    // 69: expanded_conv_14/depthwise/hard_swish/mul_1
    {16, 16, 720, false},
    // 70: expanded_conv_14/squeeze_excite/mul
    {16, 16, 720, false},
    // 71: expanded_conv_14/project/BatchNorm/FusedBatchNorm
    {16, 16, 120, false},
    // 72: expanded_conv_14/add
    {16, 16, 120, false},
    // 73: extern1/hard_swish/mul_1
    {16, 16, 480, false},
    // 74: Head/c5_upsample/branch_x_upsample_resize/separable_conv2d/depthwise
    {16, 16, 480, false},
    // 75: Head/c5_upsample/branch_x_upsample_resize/BatchNorm/FusedBatchNorm
    {16, 16, 128, false},
    // 76: Head/c5_upsample/branch_y_upsample_resize/separable_conv2d/depthwise
    {16, 16, 480, false},
    // 77: Head/c5_upsample/branch_y_upsample_resize/BatchNorm/FusedBatchNorm
    {16, 16, 128, false},
    // 78: CenternetHead/c5_upsample/add
    {16, 16, 128, false},
    // 79: CenternetHead/c5_upsample/up_sampling2d/ResizeBilinear
    {32, 32, 128, true},
    // 80: CenternetHead/Relu
    {32, 32, 256, true},
    // 81: Head/c4_upsample/branch_x_upsample_resize/separable_conv2d/depthwise
    {32, 32, 256, false},
    // 82: Head/c4_upsample/branch_x_upsample_resize/BatchNorm/FusedBatchNorm
    {32, 32, 96, false},
    // 83: Head/c4_upsample/branch_y_upsample_resize/separable_conv2d/depthwise
    {32, 32, 256, false},
    // 84: Head/c4_upsample/branch_y_upsample_resize/BatchNorm/FusedBatchNorm
    {32, 32, 96, false},
    // 85: CenternetHead/c4_upsample/add
    {32, 32, 96, false},
    // 86: CenternetHead/c4_upsample/up_sampling2d_1/ResizeBilinear
    {64, 64, 96, true},
    // 87: CenternetHead/Relu_1
    {64, 64, 192, true},
    // 88: Head/c3_upsample/branch_x_upsample_resize/separable_conv2d/depthwise
    {64, 64, 192, false},
    // 89: Head/c3_upsample/branch_x_upsample_resize/BatchNorm/FusedBatchNorm
    {64, 64, 64, false},
    // 90: Head/c3_upsample/branch_y_upsample_resize/separable_conv2d/depthwise
    {64, 64, 192, false},
    // 91: Head/c3_upsample/branch_y_upsample_resize/BatchNorm/FusedBatchNorm
    {64, 64, 64, false},
    // 92: CenternetHead/c3_upsample/add
    {64, 64, 64, false},
    // 93: CenternetHead/c3_upsample/up_sampling2d_2/ResizeBilinear
    {128, 128, 64, true},
    // 94: CenternetHead/Relu_2
    {128, 128, 128, true},
    // 95: CenternetHead/mul
    {128, 128, 128, true},
    // 96: CenternetHead/centernet_cls_output/separable_conv2d/depthwise
    {128, 128, 128, false},
    // 97: CenternetHead/centernet_cls_output/BiasAdd
    {128, 128, 80, false},
    // 98: CenternetHead/centernet_wh_output/separable_conv2d/depthwise
    {128, 128, 128, false},
    // 99: CenternetHead/centernet_wh_output/BiasAdd
    {128, 128, 4, false},
};

namespace layer_rows {

using A = Act;
using G = Gate;

// The layers in LowerDetector's order (inputs before readers):
//   Conv(out, in, H, W, Cin, Cout, k, stride, epilogue)
//   Depthwise(out, in, H, W, C, k, stride, epilogue)
//   Add(out, a, b, H, W, C)
//   SqueezeExcite(out, in, H, W, C, squeeze channels, gate, m uint8,
//                 r uint8)
//   Resize2x(out, in, H, W, C)
//   Concat(out, a, b, H, W, Ca, Cb)
// with H x W the input map's size.
inline constexpr LayerSpec kRows[kLayerCount] = {
    Conv(1, 0, 512, 512, 3, 16, 3, 2, A::kHardSwish),
    Depthwise(2, 1, 256, 256, 16, 3, 1, A::kRelu),
    Conv(3, 2, 256, 256, 16, 16, 1, 1, A::kNone),
    Add(4, 3, 1, 256, 256, 16),
    Conv(5, 4, 256, 256, 16, 64, 1, 1, A::kRelu),
    Depthwise(6, 5, 256, 256, 64, 3, 2, A::kRelu),
    Conv(7, 6, 128, 128, 64, 24, 1, 1, A::kNone),
    Conv(8, 7, 128, 128, 24, 72, 1, 1, A::kRelu),
    Depthwise(9, 8, 128, 128, 72, 3, 1, A::kRelu),
    Conv(10, 9, 128, 128, 72, 24, 1, 1, A::kNone),
    Add(11, 10, 7, 128, 128, 24),
    Conv(12, 11, 128, 128, 24, 72, 1, 1, A::kRelu),
    Conv(13, 12, 128, 128, 72, 18, 1, 1, A::kRelu),
    Depthwise(14, 13, 128, 128, 18, 5, 1, A::kNone),
    Conv(15, 14, 128, 128, 18, 64, 1, 1, A::kNone),
    Depthwise(16, 12, 128, 128, 72, 5, 2, A::kRelu),
    SqueezeExcite(17, 16, 64, 64, 72, 24, G::kHardSigmoid, true, true),
    Conv(18, 17, 64, 64, 72, 32, 1, 1, A::kNone),
    Conv(19, 18, 64, 64, 32, 96, 1, 1, A::kRelu),
    Depthwise(20, 19, 64, 64, 96, 5, 1, A::kRelu),
    SqueezeExcite(21, 20, 64, 64, 96, 24, G::kHardSigmoid, true, true),
    Conv(22, 21, 64, 64, 96, 32, 1, 1, A::kNone),
    Add(23, 22, 18, 64, 64, 32),
    Conv(24, 23, 64, 64, 32, 96, 1, 1, A::kRelu),
    Conv(25, 24, 64, 64, 96, 24, 1, 1, A::kRelu),
    Depthwise(26, 25, 64, 64, 24, 5, 1, A::kNone),
    Conv(27, 26, 64, 64, 24, 96, 1, 1, A::kNone),
    Depthwise(28, 24, 64, 64, 96, 5, 1, A::kRelu),
    SqueezeExcite(29, 28, 64, 64, 96, 24, G::kHardSigmoid, true, true),
    Conv(30, 29, 64, 64, 96, 32, 1, 1, A::kNone),
    Add(31, 30, 23, 64, 64, 32),
    Conv(32, 31, 64, 64, 32, 192, 1, 1, A::kHardSwish),
    Depthwise(33, 32, 64, 64, 192, 3, 2, A::kHardSwish),
    Conv(34, 33, 32, 32, 192, 64, 1, 1, A::kNone),
    Conv(35, 34, 32, 32, 64, 160, 1, 1, A::kHardSwish),
    Depthwise(36, 35, 32, 32, 160, 3, 1, A::kHardSwish),
    Conv(37, 36, 32, 32, 160, 64, 1, 1, A::kNone),
    Add(38, 37, 34, 32, 32, 64),
    Conv(39, 38, 32, 32, 64, 144, 1, 1, A::kHardSwish),
    Depthwise(40, 39, 32, 32, 144, 3, 1, A::kHardSwish),
    Conv(41, 40, 32, 32, 144, 64, 1, 1, A::kNone),
    Add(42, 41, 38, 32, 32, 64),
    Conv(43, 42, 32, 32, 64, 144, 1, 1, A::kHardSwish),
    Depthwise(44, 43, 32, 32, 144, 3, 1, A::kHardSwish),
    Conv(45, 44, 32, 32, 144, 64, 1, 1, A::kNone),
    Add(46, 45, 42, 32, 32, 64),
    Conv(47, 46, 32, 32, 64, 384, 1, 1, A::kHardSwish),
    Depthwise(48, 47, 32, 32, 384, 3, 1, A::kHardSwish),
    SqueezeExcite(49, 48, 32, 32, 384, 96, G::kHardSigmoid, false, true),
    Conv(50, 49, 32, 32, 384, 88, 1, 1, A::kNone),
    Conv(51, 50, 32, 32, 88, 528, 1, 1, A::kHardSwish),
    Depthwise(52, 51, 32, 32, 528, 3, 1, A::kHardSwish),
    SqueezeExcite(53, 52, 32, 32, 528, 136, G::kHardSigmoid, false, true),
    Conv(54, 53, 32, 32, 528, 88, 1, 1, A::kNone),
    Add(55, 54, 50, 32, 32, 88),
    Conv(56, 55, 32, 32, 88, 22, 1, 1, A::kRelu),
    Depthwise(57, 56, 32, 32, 22, 5, 1, A::kNone),
    Conv(58, 57, 32, 32, 22, 128, 1, 1, A::kNone),
    Conv(59, 55, 32, 32, 88, 528, 1, 1, A::kHardSwish),
    Depthwise(60, 59, 32, 32, 528, 5, 2, A::kHardSwish),
    SqueezeExcite(61, 60, 16, 16, 528, 136, G::kHardSigmoid, false, true),
    Conv(62, 61, 16, 16, 528, 120, 1, 1, A::kNone),
    Conv(63, 62, 16, 16, 120, 720, 1, 1, A::kHardSwish),
    Depthwise(64, 63, 16, 16, 720, 5, 1, A::kHardSwish),
    SqueezeExcite(65, 64, 16, 16, 720, 184, G::kHardSigmoid, false, true),
    Conv(66, 65, 16, 16, 720, 120, 1, 1, A::kNone),
    Add(67, 66, 62, 16, 16, 120),
    Conv(68, 67, 16, 16, 120, 720, 1, 1, A::kHardSwish),
    Depthwise(69, 68, 16, 16, 720, 5, 1, A::kHardSwish),
    SqueezeExcite(70, 69, 16, 16, 720, 184, G::kHardSigmoid, false, true),
    Conv(71, 70, 16, 16, 720, 120, 1, 1, A::kNone),
    Add(72, 71, 67, 16, 16, 120),
    Conv(73, 72, 16, 16, 120, 480, 1, 1, A::kHardSwish),
    Depthwise(74, 73, 16, 16, 480, 3, 1, A::kNone),
    Conv(75, 74, 16, 16, 480, 128, 1, 1, A::kNone),
    Depthwise(76, 73, 16, 16, 480, 5, 1, A::kNone),
    Conv(77, 76, 16, 16, 480, 128, 1, 1, A::kNone),
    Add(78, 75, 77, 16, 16, 128),
    Resize2x(79, 78, 16, 16, 128),
    Concat(80, 58, 79, 32, 32, 128, 128),
    Depthwise(81, 80, 32, 32, 256, 3, 1, A::kNone),
    Conv(82, 81, 32, 32, 256, 96, 1, 1, A::kNone),
    Depthwise(83, 80, 32, 32, 256, 5, 1, A::kNone),
    Conv(84, 83, 32, 32, 256, 96, 1, 1, A::kNone),
    Add(85, 82, 84, 32, 32, 96),
    Resize2x(86, 85, 32, 32, 96),
    Concat(87, 27, 86, 64, 64, 96, 96),
    Depthwise(88, 87, 64, 64, 192, 3, 1, A::kNone),
    Conv(89, 88, 64, 64, 192, 64, 1, 1, A::kNone),
    Depthwise(90, 87, 64, 64, 192, 5, 1, A::kNone),
    Conv(91, 90, 64, 64, 192, 64, 1, 1, A::kNone),
    Add(92, 89, 91, 64, 64, 64),
    Resize2x(93, 92, 64, 64, 64),
    Concat(94, 15, 93, 128, 128, 64, 64),
    SqueezeExcite(95, 94, 128, 128, 128, 32, G::kSigmoid, true, true),
    Depthwise(96, 95, 128, 128, 128, 3, 1, A::kNone),
    Conv(97, 96, 128, 128, 128, 80, 1, 1, A::kLogits),
    Depthwise(98, 95, 128, 128, 128, 3, 1, A::kNone),
    Conv(99, 98, 128, 128, 128, 4, 1, 1, A::kLogits),
};

}  // namespace layer_rows

inline constexpr const LayerSpec (&kLayers)[kLayerCount] = layer_rows::kRows;

// The tensor layer l reads as its input j (0 or 1); inputs of l: 1 or 2.
constexpr int InputOf(const LayerSpec& l, int j) {
  return j == 0 ? l.in0 : l.in1;
}
constexpr int InputCount(const LayerSpec& l) { return l.in1 < 0 ? 1 : 2; }

// How many layer inputs read tensor t.
constexpr int ReaderCount(int t) {
  int n = 0;
  for (int i = 0; i < kLayerCount; ++i) {
    for (int j = 0; j < InputCount(kLayers[i]); ++j) {
      n += InputOf(kLayers[i], j) == t;
    }
  }
  return n;
}

// Which reader of its tensor input j of layer `layer` is: 0 for the first
// (in table order), 1 for the next.
constexpr int ReaderSlot(int layer, int j) {
  const int t = InputOf(kLayers[layer], j);
  int slot = 0;
  for (int i = 0; i <= layer; ++i) {
    for (int k = 0; k < InputCount(kLayers[i]); ++k) {
      if (i == layer && k == j) return slot;
      slot += InputOf(kLayers[i], k) == t;
    }
  }
  return slot;
}

// The contract's weight widths: in a W4A8 build every conv is int4 but the
// stem and the two head outputs (int8 in every build).
constexpr bool KeepsInt8Weights(const LayerSpec& l) {
  return l.op == LayerOp::kConv &&
         (l.in0 == kImageTensor || l.epilogue == Act::kLogits);
}

// The tensor's codes are the logits' int16.
constexpr bool IsLogits(int t) {
  return t == kKeypointLogits || t == kWhLogits;
}

namespace layer_rows {

// The table is self-consistent: every layer writes the next tensor from
// earlier ones, with the geometry its input and output shapes give.
constexpr bool Consistent() {
  if (kTensors[0].height != 512 || kTensors[0].width != 512 ||
      kTensors[0].channels != 3 || !kTensors[0].is_unsigned) {
    return false;
  }
  for (int i = 0; i < kLayerCount; ++i) {
    const LayerSpec& l = kLayers[i];
    if (l.out != i + 1 || l.in0 < 0 || l.in0 > i || l.in1 > i) return false;
    if ((l.in1 >= 0) != (l.op == LayerOp::kAdd || l.op == LayerOp::kConcat)) {
      return false;
    }
    const TensorSpec& x = kTensors[l.in0];
    const TensorSpec& y = kTensors[l.out];
    if (x.height != l.height || x.width != l.width ||
        x.channels != l.in_channels || y.channels != l.out_channels) {
      return false;
    }
    int oh = l.height, ow = l.width;
    if (l.op == LayerOp::kConv) {
      oh = (l.height + l.stride - 1) / l.stride;
      ow = (l.width + l.stride - 1) / l.stride;
      if (l.depthwise && l.in_channels != l.out_channels) return false;
    } else if (l.op == LayerOp::kResize2x) {
      oh = 2 * l.height;
      ow = 2 * l.width;
    }
    if (y.height != oh || y.width != ow) return false;
    if (l.in1 >= 0) {
      const TensorSpec& b = kTensors[l.in1];
      if (b.height != l.height || b.width != l.width) return false;
      const int want = l.op == LayerOp::kAdd ? l.in_channels
                                             : l.out_channels - l.in_channels;
      if (b.channels != want) return false;
    }
    if ((l.op == LayerOp::kConv && l.epilogue == Act::kLogits) !=
        IsLogits(l.out)) {
      return false;
    }
  }
  // Every tensor is read, but for the logits (the top's tail reads them).
  for (int t = 0; t < kTensorCount; ++t) {
    if (IsLogits(t) ? ReaderCount(t) != 0 : ReaderCount(t) < 1) return false;
  }
  return kTensors[kKeypointLogits].channels == 80 &&
         kTensors[kWhLogits].channels == 4;
}
static_assert(Consistent(),
              "kernels/top/centernet_layers.h contradicts itself");

}  // namespace layer_rows
}  // namespace fxserve::kernels::centernet

#endif  // FXSERVE_KERNELS_TOP_CENTERNET_LAYERS_H_
