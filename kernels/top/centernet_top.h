// The detector's dataflow top (kernels/detect/NUMERICS.md): the 512 x 512
// x 3 image in, one HLS unit per layer of centernet_layers.h's table with
// hls::streams between them, then the keypoint sigmoid and the decode; out
// come keypoints [128][128][80] (UQ(16, 15) codes) and detections [100][6]
// (int32), the bytes RunIntReference (model/centernet/int_reference.h)
// makes. One build per weight width (int8 / int4 for the convs between the
// stem and the heads, which stay int8) and scale kind, as CenternetConfig.
//
// The units are instantiated from the table, templates over the layer
// index: UnitConfig<M, I> is layer I's unit config (code types from the
// tensors' signedness, sizes, epilogue, gate), LayerParams<M, I> its
// weights and registers, CenternetParams<M> all 99 of them (the parameter
// block; on the card device memory, in C-simulation the heap). A tensor read
// by two layers (a residual's skip, a branch point) is copied by a fork
// unit into one stream per reader. The squeeze-excite units hold their
// whole input map (the mean comes before the first output): CenternetFrames,
// storage the caller provides. C-simulation runs the units one after
// another in table order, so every stream holds a whole map. In hardware
// (stream depths are not set here) a skip whose other path passes a
// squeeze-excite needs a whole map of FIFO or a frame in device memory:
// the residuals of tensors 18, 23 (64 x 64), 50 (32 x 32), 62, 67 (16 x
// 16) and the concats' direct inputs 15 (128 x 128), 26 (64 x 64) and 57
// (32 x 32); the other residual skips and branch points need a few rows.
#ifndef FXSERVE_KERNELS_TOP_CENTERNET_TOP_H_
#define FXSERVE_KERNELS_TOP_CENTERNET_TOP_H_

#include <ap_int.h>
#include <hls_stream.h>

#include <type_traits>
#include <utility>

#include "kernels/conv/conv2d.h"
#include "kernels/conv/depthwise_conv2d.h"
#include "kernels/conv/feature_map.h"
#include "kernels/conv/pointwise_conv.h"
#include "kernels/detect/add.h"
#include "kernels/detect/concat_relu.h"
#include "kernels/detect/decode.h"
#include "kernels/detect/resize2x.h"
#include "kernels/detect/sigmoid.h"
#include "kernels/detect/squeeze_excite.h"
#include "kernels/top/centernet_layers.h"

namespace fxserve::kernels::centernet {

inline constexpr int kInputSize = 512;  // The image: 512 x 512 x 3.
inline constexpr int kInputChannels = 3;
inline constexpr int kInputPixels = kInputSize * kInputSize;
inline constexpr int kGrid = 128;    // The heads' maps: 128 x 128.
inline constexpr int kClasses = 80;  // COCO.
inline constexpr int kTopK = 100;    // Detection rows.

using pixel_t = ap_uint<8>;  // The image's UQ(8, 0) codes.
using detect::detection_t;
using detect::keypoint_t;

// One hardware build: the weight width of the convs between the stem and
// the two head outputs (8 or 4) and how channel scales are applied.
template <int kWeightBitsValue, ScaleMode kScaleModeValue>
struct CenternetConfig {
  static_assert(kWeightBitsValue == 8 || kWeightBitsValue == 4,
                "int8 or int4 weights");
  static constexpr int kWeightBits = kWeightBitsValue;
  static constexpr ScaleMode kScaleMode = kScaleModeValue;
};

// The code of an 8-bit tensor, int8 or uint8.
template <bool kUnsigned>
using Code8 = std::conditional_t<kUnsigned, uact8_t, act8_t>;

// Tensor t's codes: the logits' int16, else int8 or uint8 as the table says.
template <int T>
using TensorCode =
    std::conditional_t<IsLogits(T), pre16_t, Code8<kTensors[T].is_unsigned>>;
template <int T>
using TensorStream = PixelStream<TensorCode<T>, kTensors[T].channels>;

// A full conv that is one pixel in, one out (pointwise_conv.h).
constexpr bool IsPointwise(const LayerSpec& l) {
  return l.op == LayerOp::kConv && !l.depthwise && l.kernel == 1 &&
         l.stride == 1;
}

constexpr int Gcd(int a, int b) { return b == 0 ? a : Gcd(b, a % b); }

// Channels computed in parallel: the largest of 8, 4, 2, 1 dividing n.
constexpr int PeFor(int n) {
  return n % 8 == 0 ? 8 : (n % 4 == 0 ? 4 : (n % 2 == 0 ? 2 : 1));
}

// Layer I's unit config in build M: every member one of the units reads.
template <class M, int I>
struct UnitConfig {
  static constexpr LayerSpec kSpec = kLayers[I];
  using in_t = TensorCode<kSpec.in0>;
  using a_t = in_t;
  using b_t = TensorCode<(kSpec.in1 < 0 ? kSpec.in0 : kSpec.in1)>;
  // The 8-bit output code (a logits conv's is int16 whatever this is).
  using out_t =
      std::conditional_t<IsLogits(kSpec.out), act8_t, TensorCode<kSpec.out>>;
  using mean_t = Code8<kSpec.mean_unsigned>;
  using squeeze_t = Code8<kSpec.squeeze_unsigned>;
  using weight_t = ap_int<KeepsInt8Weights(kSpec) ? 8 : M::kWeightBits>;
  static constexpr int kHeight = kSpec.height;
  static constexpr int kWidth = kSpec.width;
  static constexpr int kInChannels = kSpec.in_channels;
  static constexpr int kOutChannels = kSpec.out_channels;
  static constexpr int kChannels = kSpec.in_channels;
  static constexpr int kChannelsA = kSpec.in_channels;
  static constexpr int kChannelsB = kSpec.out_channels - kSpec.in_channels;
  static constexpr int kSqueezeChannels = kSpec.squeeze_channels;
  static constexpr int kKernel = kSpec.kernel;
  static constexpr int kStride = kSpec.stride;
  static constexpr ConvEpilogue kEpilogue =
      static_cast<ConvEpilogue>(static_cast<int>(kSpec.epilogue));
  static constexpr detect::SeGate kGate =
      static_cast<detect::SeGate>(static_cast<int>(kSpec.gate));
  static constexpr ScaleMode kScaleMode = M::kScaleMode;
  static constexpr int kPe =
      kSpec.op == LayerOp::kSqueezeExcite
          ? PeFor(Gcd(kSpec.in_channels, kSpec.squeeze_channels))
          : PeFor(kSpec.out_channels);
};
static_assert(static_cast<int>(Act::kLogits) ==
                      static_cast<int>(ConvEpilogue::kLogits) &&
                  static_cast<int>(Act::kHardSwish) ==
                      static_cast<int>(ConvEpilogue::kHardSwish) &&
                  static_cast<int>(Act::kRelu) ==
                      static_cast<int>(ConvEpilogue::kRelu),
              "the table's epilogues are ConvEpilogue's");
static_assert(static_cast<int>(Gate::kSigmoid) ==
                  static_cast<int>(detect::SeGate::kSigmoid),
              "the table's gates are SeGate's");

// ---------------------------------------------------------------------------
// The parameter block.

// Layer I's weights and registers, as its unit takes them.
template <class M, int I, LayerOp kOp = kLayers[I].op>
struct LayerParams;

// A conv: weights HWIO ([k][k][cin][cout]; 1 x 1: [cin][cout]; depthwise
// [k][k][c]), bias, shift and mult (fixed builds) per output channel, and
// hard-swish's P and F(y) per output channel.
template <class M, int I>
struct LayerParams<M, I, LayerOp::kConv> {
  static constexpr LayerSpec kSpec = kLayers[I];
  static constexpr int kK = kSpec.kernel;
  static constexpr int kCin = kSpec.in_channels;
  static constexpr int kCout = kSpec.out_channels;
  using weight_t = typename UnitConfig<M, I>::weight_t;
  using weights_t = std::conditional_t<
      kSpec.depthwise, weight_t[kK][kK][kCout],
      std::conditional_t<IsPointwise(kSpec), weight_t[kCin][kCout],
                         weight_t[kK][kK][kCin][kCout]>>;
  weights_t w;
  conv_bias_t bias[kCout];
  conv_shift_t shift[kCout];
  conv_mult_t mult[kCout];
  frac_reg_t p[kCout];
  frac_reg_t f_y[kCout];
};

// An add: F(a), F(b), F(y) per channel.
template <class M, int I>
struct LayerParams<M, I, LayerOp::kAdd> {
  static constexpr int kC = kLayers[I].in_channels;
  frac_reg_t f_a[kC], f_b[kC], f_y[kC];
};

// A resize: F(x), F(y) per channel.
template <class M, int I>
struct LayerParams<M, I, LayerOp::kResize2x> {
  static constexpr int kC = kLayers[I].in_channels;
  frac_reg_t f_x[kC], f_y[kC];
};

// A concat: F(a), F(b) per input channel, F(y) per output channel.
template <class M, int I>
struct LayerParams<M, I, LayerOp::kConcat> {
  static constexpr int kA = kLayers[I].in_channels;
  static constexpr int kB = kLayers[I].out_channels - kA;
  frac_reg_t f_a[kA], f_b[kB], f_y[kA + kB];
};

// A squeeze-excite: the reducing 1 x 1 (w_r [C][C'], HWIO) and the
// expanding one (w_z [C'][C]) with their registers; F(x), F(m), P and F(y)
// per channel.
template <class M, int I>
struct LayerParams<M, I, LayerOp::kSqueezeExcite> {
  static constexpr int kC = kLayers[I].in_channels;
  static constexpr int kSq = kLayers[I].squeeze_channels;
  using weight_t = typename UnitConfig<M, I>::weight_t;
  weight_t w_r[kC][kSq];
  conv_bias_t bias_r[kSq];
  conv_shift_t shift_r[kSq];
  conv_mult_t mult_r[kSq];
  weight_t w_z[kSq][kC];
  conv_bias_t bias_z[kC];
  conv_shift_t shift_z[kC];
  conv_mult_t mult_z[kC];
  frac_reg_t f_x[kC], f_m[kC], p[kC], f_y[kC];
};

namespace top_internal {

template <class M, int I>
struct ParamSlot {
  LayerParams<M, I> layer;
};
template <class M, class Indices>
struct ParamSlots;
template <class M, int... I>
struct ParamSlots<M, std::integer_sequence<int, I...>> : ParamSlot<M, I>... {};

// Layer I's squeeze-excite frame, if it is one.
template <int I, bool = kLayers[I].op == LayerOp::kSqueezeExcite>
struct FrameSlot {};
template <int I>
struct FrameSlot<I, true> {
  TensorCode<kLayers[I].in0> frame[kLayers[I].height * kLayers[I].width]
                                  [kLayers[I].in_channels];
};
template <class Indices>
struct FrameSlots;
template <int... I>
struct FrameSlots<std::integer_sequence<int, I...>> : FrameSlot<I>... {};

// "t042", "t042a", "t042b": tensor 42's stream and its fork's copies.
template <int T>
struct StreamName {
  static constexpr char kDigits[3] = {static_cast<char>('0' + T / 100),
                                      static_cast<char>('0' + T / 10 % 10),
                                      static_cast<char>('0' + T % 10)};
  static constexpr char kMade[] = {'t', kDigits[0], kDigits[1], kDigits[2],
                                   '\0'};
  static constexpr char kFirst[] = {'t',        kDigits[0], kDigits[1],
                                    kDigits[2], 'a',        '\0'};
  static constexpr char kSecond[] = {'t',        kDigits[0], kDigits[1],
                                     kDigits[2], 'b',        '\0'};
};

// Tensor T's streams: the one its producer writes, and for a tensor read
// twice the fork's copy for each reader.
template <int T, int kReaders = ReaderCount(T)>
struct TensorStreams {
  static_assert(kReaders <= 1, "a tensor has at most two readers");
  TensorStream<T> made{StreamName<T>::kMade};
};
template <int T>
struct TensorStreams<T, 2> {
  TensorStream<T> made{StreamName<T>::kMade};
  TensorStream<T> first{StreamName<T>::kFirst};
  TensorStream<T> second{StreamName<T>::kSecond};
};
template <class Indices>
struct StreamSlots;
template <int... T>
struct StreamSlots<std::integer_sequence<int, T...>> : TensorStreams<T>... {};

}  // namespace top_internal

// The parameter block: LayerParams of every layer. Layer<I>() is layer I's.
template <class M>
struct CenternetParams
    : top_internal::ParamSlots<M,
                               std::make_integer_sequence<int, kLayerCount>> {
  template <int I>
  LayerParams<M, I>& Layer() {
    return static_cast<top_internal::ParamSlot<M, I>&>(*this).layer;
  }
  template <int I>
  const LayerParams<M, I>& Layer() const {
    return static_cast<const top_internal::ParamSlot<M, I>&>(*this).layer;
  }
};

// The squeeze-excite units' frames (their input maps, 37 MB of codes in
// C-simulation; 4.6 M bytes on the card). Frame<I>() is layer I's.
struct CenternetFrames
    : top_internal::FrameSlots<std::make_integer_sequence<int, kLayerCount>> {
  template <int I>
  auto& Frame() {
    return static_cast<top_internal::FrameSlot<I>&>(*this).frame;
  }
};

// Every tensor's streams. Made<T>() is the stream tensor T's producer
// writes; Reader<T, r>() the one its reader r (ReaderSlot) reads.
struct CenternetStreams
    : top_internal::StreamSlots<std::make_integer_sequence<int, kTensorCount>> {
  template <int T>
  TensorStream<T>& Made() {
    return static_cast<top_internal::TensorStreams<T>&>(*this).made;
  }
  template <int T, int kSlot>
  TensorStream<T>& Reader() {
    auto& s = static_cast<top_internal::TensorStreams<T>&>(*this);
    if constexpr (ReaderCount(T) == 2) {
      if constexpr (kSlot == 0) {
        return s.first;
      } else {
        return s.second;
      }
    } else {
      static_assert(kSlot == 0, "a tensor read once has one reader");
      return s.made;
    }
  }
};

// ---------------------------------------------------------------------------
// The units the table does not list.

// The image into a stream of pixels, raster order.
inline void ImageStage(const pixel_t image[kInputPixels][kInputChannels],
                       PixelStream<pixel_t, kInputChannels>& out) {
image_pixel_loop:
  for (int i = 0; i < kInputPixels; ++i) {
#pragma HLS PIPELINE II = 1
    Pixel<pixel_t, kInputChannels> p;
  image_channel_loop:
    for (int c = 0; c < kInputChannels; ++c) p.c[c] = image[i][c];
    out.write(p);
  }
}

// A map read by two units: each pixel to both.
template <class T, int kC, int kPixels>
void ForkMap(PixelStream<T, kC>& in, PixelStream<T, kC>& first,
             PixelStream<T, kC>& second) {
fork_pixel_loop:
  for (int i = 0; i < kPixels; ++i) {
#pragma HLS PIPELINE II = 1
    const Pixel<T, kC> x = in.read();
    first.write(x);
    second.write(x);
  }
}

// The keypoint map out to memory, [y][x][class].
inline void KeypointStage(PixelStream<keypoint_t, kClasses>& in,
                          keypoint_t keypoints[kGrid][kGrid][kClasses]) {
keypoint_row_loop:
  for (int y = 0; y < kGrid; ++y) {
  keypoint_col_loop:
    for (int x = 0; x < kGrid; ++x) {
#pragma HLS PIPELINE II = 1
      const Pixel<keypoint_t, kClasses> k = in.read();
    keypoint_class_loop:
      for (int c = 0; c < kClasses; ++c) keypoints[y][x][c] = k.c[c];
    }
  }
}

struct KeypointSigmoidConfig {
  static constexpr int kHeight = kGrid;
  static constexpr int kWidth = kGrid;
  static constexpr int kChannels = kClasses;
  static constexpr int kPe = 8;
};
struct CenternetDecodeConfig {
  static constexpr int kHeight = kGrid;
  static constexpr int kWidth = kGrid;
  static constexpr int kClasses = centernet::kClasses;
  static constexpr int kTopK = centernet::kTopK;
};
static_assert(kTensors[kKeypointLogits].height == kGrid &&
                  kTensors[kKeypointLogits].width == kGrid &&
                  kTensors[kKeypointLogits].channels == kClasses &&
                  kTensors[kWhLogits].height == kGrid &&
                  kTensors[kWhLogits].width == kGrid &&
                  kTensors[kWhLogits].channels == detect::kWhChannels,
              "the heads are 128 x 128 x (80, 4)");

// ---------------------------------------------------------------------------
// The layers.

// Layer I's unit, reading its inputs' streams and writing its output's.
template <class M, int I>
void LayerUnit(const CenternetParams<M>& params, CenternetFrames& frames,
               CenternetStreams& s) {
#pragma HLS INLINE
  constexpr LayerSpec kL = kLayers[I];
  using C = UnitConfig<M, I>;
  const LayerParams<M, I>& p = params.template Layer<I>();
  auto& in = s.template Reader<kL.in0, ReaderSlot(I, 0)>();
  auto& out = s.template Made<kL.out>();
  if constexpr (kL.op == LayerOp::kConv) {
    if constexpr (kL.depthwise) {
      DepthwiseConv2d<C>(in, p.w, p.bias, p.shift, p.mult, p.p, p.f_y, out);
    } else if constexpr (IsPointwise(kL)) {
      PointwiseConv<C>(in, p.w, p.bias, p.shift, p.mult, p.p, p.f_y, out);
    } else {
      Conv2d<C>(in, p.w, p.bias, p.shift, p.mult, p.p, p.f_y, out);
    }
  } else if constexpr (kL.op == LayerOp::kAdd) {
    auto& b = s.template Reader<kL.in1, ReaderSlot(I, 1)>();
    detect::Add<C>(in, b, p.f_a, p.f_b, p.f_y, out);
  } else if constexpr (kL.op == LayerOp::kConcat) {
    auto& b = s.template Reader<kL.in1, ReaderSlot(I, 1)>();
    detect::ConcatRelu<C>(in, b, p.f_a, p.f_b, p.f_y, out);
  } else if constexpr (kL.op == LayerOp::kResize2x) {
    detect::Resize2x<C>(in, p.f_x, p.f_y, out);
  } else {
    detect::SqueezeExcite<C>(in, p.w_r, p.bias_r, p.shift_r, p.mult_r, p.w_z,
                             p.bias_z, p.shift_z, p.mult_z, p.f_x, p.f_m, p.p,
                             p.f_y, frames.template Frame<I>(), out);
  }
}

// Tensor T's fork, if two layers read it.
template <int T>
void ForkUnit(CenternetStreams& s) {
#pragma HLS INLINE
  if constexpr (ReaderCount(T) == 2) {
    constexpr TensorSpec kT = kTensors[T];
    ForkMap<TensorCode<T>, kT.channels, kT.height * kT.width>(
        s.template Made<T>(), s.template Reader<T, 0>(),
        s.template Reader<T, 1>());
  }
}

// Every layer in table order, each output forked where read twice.
template <class M, int... I>
void LayerUnits(const CenternetParams<M>& params, CenternetFrames& frames,
                CenternetStreams& s, std::integer_sequence<int, I...>) {
#pragma HLS INLINE
  ((LayerUnit<M, I>(params, frames, s), ForkUnit<I + 1>(s)), ...);
}

// The whole detector on one image: keypoints (UQ(16, 15) sigmoid codes) and
// the decode's detection rows (x1, y1, x2, y2 in Q(32, 4) 512-pixel units,
// score code, class).
template <class M>
void CenternetTop(const pixel_t image[kInputPixels][kInputChannels],
                  const CenternetParams<M>& params, CenternetFrames& frames,
                  keypoint_t keypoints[kGrid][kGrid][kClasses],
                  detection_t detections[kTopK][detect::kDetectionFields]) {
#pragma HLS DATAFLOW
  CenternetStreams s;
  static_assert(ReaderCount(kImageTensor) == 1, "the image is read once");
  ImageStage(image, s.Made<kImageTensor>());
  LayerUnits<M>(params, frames, s,
                std::make_integer_sequence<int, kLayerCount>{});
  PixelStream<keypoint_t, kClasses> sigmoid("keypoints");
  PixelStream<keypoint_t, kClasses> to_memory("keypoints_out");
  PixelStream<keypoint_t, kClasses> to_decode("keypoints_decode");
  detect::SigmoidMap<KeypointSigmoidConfig>(s.Made<kKeypointLogits>(), sigmoid);
  ForkMap<keypoint_t, kClasses, kGrid * kGrid>(sigmoid, to_memory, to_decode);
  KeypointStage(to_memory, keypoints);
  detect::Decode<CenternetDecodeConfig>(to_decode, s.Made<kWhLogits>(),
                                        detections);
}

}  // namespace fxserve::kernels::centernet

#endif  // FXSERVE_KERNELS_TOP_CENTERNET_TOP_H_
