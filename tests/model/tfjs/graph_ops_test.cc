// The float ops against hand-computed values, on the cases the detector's
// graph relies on: SAME padding at stride 2 on even sizes (0 before, 1
// after), depthwise multipliers, the legacy bilinear rule, broadcasting,
// floor division of negatives, strided-slice masks, top-k ties.
#include "model/tfjs/graph_ops.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fxserve::model::tfjs::ops {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

Tensor Floats(std::vector<int64_t> shape, std::vector<float> values) {
  Tensor t;
  t.shape = std::move(shape);
  t.floats = std::move(values);
  return t;
}

Tensor Ints(std::vector<int64_t> shape, std::vector<int32_t> values) {
  Tensor t;
  t.dtype = DataType::kInt32;
  t.shape = std::move(shape);
  t.ints = std::move(values);
  return t;
}

TEST(GraphOps, SameStrideTwoOnAnEvenSizePadsOnlyAfter) {
  // 1x4x4x1 input 1..16, 3x3 all-ones filter, stride 2: out 2x2; windows
  // start at rows/cols 0 and 2 (pad 0 before, 1 after).
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[i] = i + 1;
  const Tensor y = *Conv2D(Floats({1, 4, 4, 1}, x),
                           Floats({3, 3, 1, 1}, std::vector<float>(9, 1)),
                           nullptr, {.stride = 2});
  EXPECT_THAT(y.shape, ElementsAre(1, 2, 2, 1));
  // Top-left: rows 0-2, cols 0-2 = 1+2+3+5+6+7+9+10+11.
  // Bottom-left: rows 2-3, cols 0-2 = 9+10+11+13+14+15; bottom-right:
  // rows 2-3, cols 2-3 (padding beyond) = 11+12+15+16.
  EXPECT_THAT(y.floats, ElementsAre(54, 45, 72, 54));
}

TEST(GraphOps, DepthwiseWithBiasAndRelu6) {
  // 1x1x1x2 input, 1x1 depthwise filter with multiplier 2.
  const Tensor bias = Floats({4}, {0, 0, 1, -10});
  const Tensor y =
      *Conv2D(Floats({1, 1, 1, 2}, {2, 3}), Floats({1, 1, 2, 2}, {1, 10, 1, 2}),
              &bias, {.depthwise = true, .activation = Activation::kRelu6});
  // Channel 0 -> outputs 0,1 = 2*1, 2*10; channel 1 -> 3*1+1, 3*2-10.
  EXPECT_THAT(y.floats, ElementsAre(2, 6, 4, 0));
}

TEST(GraphOps, ValidPaddingShrinks) {
  const Tensor y = *Conv2D(Floats({1, 3, 3, 1}, std::vector<float>(9, 1)),
                           Floats({2, 2, 1, 1}, {1, 1, 1, 1}), nullptr,
                           {.padding = Padding::kValid});
  EXPECT_THAT(y.shape, ElementsAre(1, 2, 2, 1));
  EXPECT_THAT(y.floats, ElementsAre(4, 4, 4, 4));
}

TEST(GraphOps, ResizeIsTheLegacyBilinearRule) {
  // 1x2 -> 1x4: src = dst * 2/4 = 0, 0.5, 1, 1.5 (clamped to the last).
  const Tensor y = *ResizeBilinear(Floats({1, 1, 2, 1}, {10, 20}), 1, 4);
  EXPECT_THAT(y.floats, ElementsAre(10, 15, 20, 20));
}

TEST(GraphOps, BroadcastingAndIntegerFloorOps) {
  const Tensor sum = *BinaryOp(Binary::kAdd, Floats({2, 1}, {1, 2}),
                               Floats({3}, {10, 20, 30}));
  EXPECT_THAT(sum.shape, ElementsAre(2, 3));
  EXPECT_THAT(sum.floats, ElementsAre(11, 21, 31, 12, 22, 32));
  const Tensor div =
      *BinaryOp(Binary::kFloorDiv, Ints({3}, {-7, 7, -6}), Ints({}, {2}));
  EXPECT_THAT(div.ints, ElementsAre(-4, 3, -3));
  const Tensor mod =
      *BinaryOp(Binary::kFloorMod, Ints({3}, {-7, 7, -6}), Ints({}, {2}));
  EXPECT_THAT(mod.ints, ElementsAre(1, 1, 0));
  const Tensor eq =
      *BinaryOp(Binary::kEqual, Floats({2}, {1, 2}), Floats({2}, {1, 3}));
  EXPECT_EQ(eq.dtype, DataType::kBool);
  EXPECT_THAT(eq.ints, ElementsAre(1, 0));
  EXPECT_FALSE(
      BinaryOp(Binary::kAdd, Floats({2}, {1, 2}), Floats({3}, {1, 2, 3})).ok());
  EXPECT_FALSE(
      BinaryOp(Binary::kFloorDiv, Ints({1}, {1}), Ints({1}, {0})).ok());
}

TEST(GraphOps, MeanConcatReshapeExpand) {
  const Tensor x = Floats({1, 2, 2, 2}, {1, 10, 2, 20, 3, 30, 4, 40});
  const Tensor mean = *Mean(x, {1, 2}, /*keep_dims=*/true);
  EXPECT_THAT(mean.shape, ElementsAre(1, 1, 1, 2));
  EXPECT_THAT(mean.floats, ElementsAre(2.5, 25));
  const Tensor cat = *Concat({&mean, &mean}, -1);
  EXPECT_THAT(cat.shape, ElementsAre(1, 1, 1, 4));
  EXPECT_THAT(cat.floats, ElementsAre(2.5, 25, 2.5, 25));
  EXPECT_THAT(Reshape(x, {-1, 4})->shape, ElementsAre(2, 4));
  EXPECT_FALSE(Reshape(x, {3, -1}).ok() &&
               Reshape(x, {3, -1})->elements() == 8);
  EXPECT_THAT(ExpandDims(mean, -1)->shape, ElementsAre(1, 1, 1, 2, 1));
}

TEST(GraphOps, StridedSliceMasks) {
  // [1, 3, 4]; begin_mask|end_mask on axes 0-1 take them whole; axis 2
  // [1, 3).
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = i;
  const Tensor y = *StridedSlice(Floats({1, 3, 4}, v), {.begin = {0, 0, 1},
                                                        .end = {0, 0, 3},
                                                        .strides = {1, 1, 1},
                                                        .begin_mask = 3,
                                                        .end_mask = 3});
  EXPECT_THAT(y.shape, ElementsAre(1, 3, 2));
  EXPECT_THAT(y.floats, ElementsAre(1, 2, 5, 6, 9, 10));
  const Tensor shrunk =
      *StridedSlice(Floats({1, 3, 4}, v), {.begin = {0, 1, 0},
                                           .end = {1, 2, 4},
                                           .strides = {1, 1, 1},
                                           .shrink_axis_mask = 2});
  EXPECT_THAT(shrunk.shape, ElementsAre(1, 4));
  EXPECT_THAT(shrunk.floats, ElementsAre(4, 5, 6, 7));
}

TEST(GraphOps, GatherAndTopKWithTies) {
  const Tensor g =
      *Gather(Floats({3, 2}, {0, 1, 10, 11, 20, 21}), Ints({2}, {2, 0}), 0);
  EXPECT_THAT(g.shape, ElementsAre(2, 2));
  EXPECT_THAT(g.floats, ElementsAre(20, 21, 0, 1));
  EXPECT_FALSE(Gather(Floats({1}, {0}), Ints({1}, {1}), 0).ok());
  const auto [values, indices] = *TopK(Floats({1, 5}, {3, 7, 7, 1, 7}), 3);
  EXPECT_THAT(values.floats, ElementsAre(7, 7, 7));
  EXPECT_THAT(indices.ints, ElementsAre(1, 2, 4));  // Lower index first.
}

TEST(GraphOps, MaxPoolSamePadsWithMinusInfinity) {
  const Tensor y =
      *MaxPool(Floats({1, 2, 2, 1}, {-5, -6, -7, -8}), 3, 1, Padding::kSame);
  EXPECT_THAT(y.floats, ElementsAre(-5, -5, -5, -5));
}

TEST(GraphOps, Activations) {
  const Tensor x = Floats({4}, {-1, 0.5, 7, 0});
  EXPECT_THAT(UnaryOp(Unary::kRelu6, x)->floats, ElementsAre(0, 0.5, 6, 0));
  EXPECT_THAT(UnaryOp(Unary::kRelu, x)->floats, ElementsAre(0, 0.5, 7, 0));
  EXPECT_FLOAT_EQ(UnaryOp(Unary::kSigmoid, x)->floats[3], 0.5f);
  EXPECT_THAT(Cast(Ints({2}, {3, -2}), DataType::kFloat32)->floats,
              ElementsAre(3, -2));
}

}  // namespace
}  // namespace fxserve::model::tfjs::ops
