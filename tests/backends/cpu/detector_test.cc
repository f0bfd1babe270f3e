// The CPU detector (backends/cpu/detector/cpu_detector.h) against the plain
// integer reference, byte for byte, on every ISA this CPU has and 1 and 2
// threads: small random detectors that use every layer kind, a detector
// with fewer peaks than the top 100, and (cpu_detector_real_model, release
// stage) the real W8A8 artifact on two darknet photos.
#include "backends/cpu/detector/cpu_detector.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "model/centernet/int_reference.h"
#include "model/centernet/quantized_detector.h"
#include "model/image/image.h"

namespace fxserve::backends::cpu {
namespace {

namespace mc = ::fxserve::model::centernet;
using ::fxserve::model::QuantizedLinear;
using ::fxserve::model::ScaleKind;
using mc::Epilogue;

constexpr size_t kInputBytes = 512 * 512 * 3;

std::vector<std::string> SupportedIsas() {
  std::vector<std::string> isas;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni}) {
    if (IsaSupported(isa)) isas.push_back(IsaName(isa));
  }
  return isas;
}

// Random detectors with plausible value ranges: each conv's shifts are set
// from its fan-in so that outputs spread over their 8 or 16 bits.
class ToyBuilder {
 public:
  ToyBuilder(ScaleKind scales, uint32_t seed) : rng_(seed) {
    q_.scales = scales;
    q_.input = "images";
    q_.keypoint_logits = "cls";
    q_.wh_logits = "wh";
    q_.class_names.assign(80, "thing");
  }

  int Rand(int lo, int hi) {  // Inclusive.
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  }
  std::vector<int> Fracs(int c, int lo, int hi) {
    std::vector<int> f(c);
    for (int& v : f) v = Rand(lo, hi);
    return f;
  }
  void Unsigned(const std::string& name) { q_.unsigned_tensors.insert(name); }

  // Weights for `out` channels of `per` products whose outputs should have
  // about target[o] as their spread (in output codes, before a 2^-extra).
  QuantizedLinear Linear(int per, int out, const std::vector<double>& target,
                         int weight_max = 127) {
    QuantizedLinear w;
    w.in = per;
    w.out = out;
    w.weight.resize(static_cast<size_t>(per) * out);
    for (int8_t& v : w.weight) {
      v = static_cast<int8_t>(Rand(-weight_max, weight_max));
    }
    const double spread = std::sqrt(per) * 40 * weight_max * 0.58;
    const bool fixed = q_.scales == ScaleKind::kFixed;
    for (int o = 0; o < out; ++o) {
      w.bias.push_back(
          Rand(-static_cast<int>(spread), static_cast<int>(spread)));
      const int s =
          static_cast<int>(std::lround(std::log2(spread / target[o]))) +
          Rand(-1, 1) + (fixed ? 15 : 0);
      w.shift.push_back(static_cast<int8_t>(s));
      if (fixed) w.mult.push_back(static_cast<uint16_t>(Rand(32768, 65535)));
    }
    return w;
  }

  // A conv layer; the output's F and, for hard-swish, P are random.
  void Conv(const std::string& out, const std::string& in, int k, int stride,
            bool depthwise, int cin, int cout, Epilogue e,
            bool unsigned_out = false) {
    mc::QuantizedDetectorLayer l;
    l.layer.kind = mc::LayerKind::kConv;
    l.layer.inputs = {in};
    l.layer.output = out;
    const std::string node = e == Epilogue::kHardSwish ? out + "/pre" : out;
    l.layer.conv = {node, k, stride, depthwise, cin, cout, e, {}, {}};
    std::vector<double> target(cout, 40);
    if (e == Epilogue::kHardSwish) {
      const std::vector<int> p = Fracs(cout, 7, 12);
      q_.frac[node] = p;
      for (int o = 0; o < cout; ++o) target[o] = std::ldexp(2.0, p[o]);
    } else if (e == Epilogue::kLogits) {
      target.assign(cout, 60);  // The top 100 of 1.3M then stay distinct.
    }
    if (e != Epilogue::kLogits) q_.frac[out] = Fracs(cout, 1, 6);
    if (unsigned_out) Unsigned(out);
    l.conv = Linear(k * k * (depthwise ? 1 : cin), cout, target);
    q_.layers.push_back(std::move(l));
  }

  void SqueezeExcite(const std::string& out, const std::string& in, int c,
                     int reduced, mc::Gate gate, bool unsigned_out) {
    mc::QuantizedDetectorLayer l;
    l.layer.kind = mc::LayerKind::kSqueezeExcite;
    l.layer.inputs = {in};
    l.layer.output = out;
    l.layer.gate = gate;
    l.layer.conv = {out + "/reduce", 1,  1, false, c, reduced,
                    Epilogue::kRelu, {}, {}};
    l.layer.expand = {out + "/expand", 1,  1, false, reduced, c,
                      Epilogue::kNone, {}, {}};
    const std::vector<int> fx = q_.Frac(in, c);
    std::vector<int> fm(c);
    for (int i = 0; i < c; ++i) fm[i] = fx[i] + Rand(-1, 2);
    q_.frac[out + "#mean"] = fm;
    if (Rand(0, 1)) Unsigned(out + "#mean");
    q_.frac[out + "/reduce"] = Fracs(reduced, 2, 5);
    Unsigned(out + "/reduce");
    l.conv = Linear(c, reduced, std::vector<double>(reduced, 40));
    std::vector<double> target(c, 400);  // Sigmoid: Q(16, 8) logits.
    if (gate == mc::Gate::kHardSigmoid) {
      const std::vector<int> p = Fracs(c, 6, 12);
      q_.frac[out + "/expand"] = p;
      for (int i = 0; i < c; ++i) target[i] = std::ldexp(3.0, p[i]);
    }
    l.expand = Linear(reduced, c, target);
    q_.frac[out] = Fracs(c, 1, 6);
    if (unsigned_out) Unsigned(out);
    q_.layers.push_back(std::move(l));
  }

  void Elementwise(mc::LayerKind kind, const std::string& out,
                   std::vector<std::string> in, int c, bool unsigned_out) {
    mc::QuantizedDetectorLayer l;
    l.layer.kind = kind;
    l.layer.inputs = std::move(in);
    l.layer.output = out;
    q_.frac[out] = Fracs(c, 1, 6);
    if (unsigned_out) Unsigned(out);
    q_.layers.push_back(std::move(l));
  }

  mc::QuantizedDetector& model() { return q_; }

 private:
  std::mt19937 rng_;
  mc::QuantizedDetector q_;
};

// Every layer kind: the stem (3x3 s2, UQ(8, 0) input), depthwise 3x3 and
// 5x5 at strides 1 and 2 (fewer and more than 64 channels), 1x1 convs with none
// / relu / hard-swish, a full 3x3 s2 conv on a signed tensor, a 1x1 s2 conv,
// both squeeze-excite gates, x2 resizes of unsigned and signed tensors, adds,
// concats, a layer whose bias is too large for int32 sums (the scalar
// fallback), a dead layer, and the two heads.
mc::QuantizedDetector RandomDetector(ScaleKind scales, uint32_t seed) {
  using mc::LayerKind;
  ToyBuilder t(scales, seed);
  t.Conv("stem", "images", 3, 2, false, 3, 8, Epilogue::kHardSwish);
  t.Conv("dw1", "stem", 3, 2, true, 8, 8, Epilogue::kRelu, true);  // 128.
  t.Conv("pw1", "dw1", 1, 1, false, 8, 16, Epilogue::kNone);
  t.Conv("dw2", "pw1", 5, 1, true, 16, 16, Epilogue::kHardSwish);
  t.Elementwise(LayerKind::kAdd, "add1", {"pw1", "dw2"}, 16, false);
  t.Conv("dead", "add1", 1, 1, false, 16, 8, Epilogue::kRelu, true);
  t.Conv("pw2", "add1", 1, 1, false, 16, 24, Epilogue::kRelu, true);
  t.SqueezeExcite("se1", "pw2", 24, 8, mc::Gate::kHardSigmoid, true);
  t.Conv("down", "add1", 3, 2, false, 16, 16, Epilogue::kRelu, true);  // 64.
  t.Conv("dw3", "down", 5, 2, true, 16, 16, Epilogue::kNone);          // 32.
  t.Conv("dw4", "dw3", 3, 1, true, 16, 16, Epilogue::kRelu, true);
  t.SqueezeExcite("se2", "dw4", 16, 8, mc::Gate::kSigmoid, true);
  t.Conv("pw4", "se2", 1, 1, false, 16, 36, Epilogue::kHardSwish);
  t.Elementwise(LayerKind::kResize2x, "up1", {"se2"}, 16, true);  // 64.
  t.Elementwise(LayerKind::kConcat, "cat1", {"down", "up1"}, 32, true);
  t.Conv("pw3", "cat1", 1, 1, false, 32, 20, Epilogue::kNone);
  t.Conv("pw5", "cat1", 1, 1, false, 32, 80, Epilogue::kRelu, true);
  t.Conv("dw5", "pw5", 3, 1, true, 80, 80, Epilogue::kHardSwish);
  t.Conv("pw6", "dw5", 1, 1, false, 80, 20, Epilogue::kNone);
  t.Elementwise(LayerKind::kAdd, "add3", {"pw3", "pw6"}, 20, false);
  t.Elementwise(LayerKind::kResize2x, "up2", {"add3"}, 20, false);  // 128.
  t.Elementwise(LayerKind::kConcat, "cat2", {"se1", "up2"}, 44, true);
  t.Conv("s2", "cat2", 1, 2, false, 44, 12, Epilogue::kNone);     // 64.
  t.Elementwise(LayerKind::kResize2x, "up3", {"s2"}, 12, false);  // 128.
  t.Elementwise(LayerKind::kAdd, "add2", {"pw1", "dw2"}, 16, true);
  t.Elementwise(LayerKind::kConcat, "cat3", {"cat2", "up3"}, 56, true);
  t.Conv("gen", "add1", 1, 1, false, 16, 16, Epilogue::kNone);
  t.Elementwise(LayerKind::kConcat, "cat4", {"cat3", "gen"}, 72, true);
  t.Conv("mix", "cat4", 1, 1, false, 72, 16, Epilogue::kHardSwish);
  t.Conv("cls", "mix", 1, 1, false, 16, 80, Epilogue::kLogits);
  t.Conv("wh", "add2", 1, 1, false, 16, 4, Epilogue::kLogits);
  mc::QuantizedDetector q = std::move(t.model());
  for (mc::QuantizedDetectorLayer& l : q.layers) {
    // pw3's channel 0: a bias that leaves int32 (the scalar kernels run it).
    if (l.layer.output == "pw3") l.conv.bias[0] = INT32_MAX;
    // gen: shifts outside the SIMD fast path's (results beyond int32, a
    // shift of 50 or more, saturating left shifts): the general epilogue.
    if (l.layer.output == "gen") {
      const int extra = scales == ScaleKind::kFixed ? 15 : 0;
      l.conv.shift[0] = static_cast<int8_t>(1 + extra);
      l.conv.shift[1] = 60;
      l.conv.shift[2] = -3;
      l.conv.shift[3] = 0;
      l.conv.shift[4] = static_cast<int8_t>(-12 + extra);
    }
  }
  return q;
}

std::vector<uint8_t> NoiseImage(uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(kInputBytes);
  for (uint8_t& b : v) b = static_cast<uint8_t>(rng() >> 24);
  return v;
}

// Random 16 x 16 blocks with a little noise: smoother maps.
std::vector<uint8_t> BlockImage(uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> blocks(32 * 32 * 3);
  for (uint8_t& b : blocks) b = static_cast<uint8_t>(rng() >> 24);
  std::vector<uint8_t> v(kInputBytes);
  for (int y = 0; y < 512; ++y) {
    for (int x = 0; x < 512; ++x) {
      for (int c = 0; c < 3; ++c) {
        const int base = blocks[((y / 16) * 32 + x / 16) * 3 + c];
        const int noise = static_cast<int>(rng() % 9) - 4;
        v[(static_cast<size_t>(y) * 512 + x) * 3 + c] =
            static_cast<uint8_t>(std::clamp(base + noise, 0, 255));
      }
    }
  }
  return v;
}

// Runs `q` on every ISA and 1 and 2 threads and compares with `want`;
// on the SIMD ISAs, exactly `scalar_layers` run on the scalar kernels.
void ExpectAllMatch(const mc::QuantizedDetector& q,
                    const std::vector<uint8_t>& input,
                    const mc::IntDetectorOutput& want, const std::string& what,
                    const std::vector<std::string>& scalar_layers = {}) {
  for (const std::string& isa : SupportedIsas()) {
    for (int threads : {1, 2}) {
      SCOPED_TRACE(absl::StrCat(what, ", isa ", isa, ", threads ", threads));
      absl::StatusOr<std::unique_ptr<CpuDetector>> d =
          CpuDetector::Create(q, {.threads = threads, .isa = isa});
      ASSERT_TRUE(d.ok()) << d.status();
      EXPECT_STREQ((*d)->isa(), isa.c_str());
      EXPECT_EQ((*d)->threads(), threads);
      if (isa != "scalar") {
        EXPECT_EQ((*d)->scalar_layers(), scalar_layers);
      }
      for (int repeat = 0; repeat < 2; ++repeat) {  // Reused buffers.
        absl::StatusOr<mc::IntDetectorOutput> got = (*d)->Run(input);
        ASSERT_TRUE(got.ok()) << got.status();
        ASSERT_EQ(got->keypoints.size(), want.keypoints.size());
        size_t first = 0;
        while (first < want.keypoints.size() &&
               got->keypoints[first] == want.keypoints[first]) {
          ++first;
        }
        EXPECT_EQ(first, want.keypoints.size())
            << "keypoints differ first at " << first << ": "
            << got->keypoints[first] << " vs " << want.keypoints[first];
        EXPECT_EQ(got->detections, want.detections);
      }
    }
  }
}

class CpuDetectorToy : public ::testing::TestWithParam<ScaleKind> {};

TEST_P(CpuDetectorToy, MatchesTheReferenceOnEveryIsaAndThreadCount) {
  const mc::QuantizedDetector q = RandomDetector(GetParam(), 7);
#if defined(FXSERVE_SANITIZED)
  constexpr int kImages = 1;  // The same code paths, in a quarter minute.
#else
  constexpr int kImages = 2;
#endif
  for (int image = 0; image < kImages; ++image) {
    const std::vector<uint8_t> input =
        image == 0 ? NoiseImage(11) : BlockImage(12);
    // Each layer's codes should spread (not one saturated value), or the
    // comparison would prove little.
    absl::StatusOr<mc::IntDetectorOutput> want = mc::RunIntReference(
        q, input,
        [&](const std::string& name, absl::Span<const int64_t> codes,
            const std::vector<int>&) {
          std::set<int64_t> distinct(codes.begin(), codes.end());
          EXPECT_GE(distinct.size(), 3u) << name << " is nearly constant";
        });
    ASSERT_TRUE(want.ok()) << want.status();
    std::set<int32_t> scores;
    for (size_t r = 0; r < 100; ++r) scores.insert(want->detections[r * 6 + 4]);
    EXPECT_GT(scores.size(), 3u);
    ExpectAllMatch(q, input, *want, absl::StrCat("image ", image), {"pw3"});
  }
}

INSTANTIATE_TEST_SUITE_P(Scales, CpuDetectorToy,
                         ::testing::Values(ScaleKind::kPow2, ScaleKind::kFixed),
                         [](const auto& scale) {
                           return std::string(
                               model::ScaleKindName(scale.param));
                         });

QuantizedLinear FixedLinear(int in, int out, std::vector<int8_t> weight,
                            int32_t bias) {
  QuantizedLinear w;
  w.in = in;
  w.out = out;
  w.weight = std::move(weight);
  w.bias.assign(out, bias);
  w.shift.assign(out, 0);
  return w;
}

mc::QuantizedDetectorLayer Pointwise(const std::string& in,
                                     const std::string& out, int stride,
                                     int cin, int cout, Epilogue e,
                                     QuantizedLinear w) {
  mc::QuantizedDetectorLayer l;
  l.layer.kind = mc::LayerKind::kConv;
  l.layer.inputs = {in};
  l.layer.output = out;
  l.layer.conv = {out, 1, stride, false, cin, cout, e, {}, {}};
  l.conv = std::move(w);
  return l;
}

// Logits strictly increasing in x and y: one peak per class (the corner),
// so the top 100 end with the 20 lowest non-peak indices at score 0.
TEST(CpuDetector, FewerPeaksThanTheTop100) {
  mc::QuantizedDetector q;
  q.input = "images";
  q.keypoint_logits = "cls";
  q.wh_logits = "wh";
  q.class_names.assign(80, "thing");
  std::vector<int8_t> pick(3 * 4, 0);
  pick[0] = 1;  // Output 0 = input channel 0.
  q.layers.push_back(Pointwise("images", "a", 2, 3, 4, Epilogue::kRelu,
                               FixedLinear(3, 4, pick, 0)));
  std::vector<int8_t> pick4(4 * 4, 0);
  pick4[0] = 1;
  q.layers.push_back(Pointwise("a", "b", 2, 4, 4, Epilogue::kRelu,
                               FixedLinear(4, 4, pick4, 0)));
  std::vector<int8_t> cls(4 * 80, 0);
  for (int c = 0; c < 80; ++c) cls[c * 4] = 2;
  q.layers.push_back(Pointwise("b", "cls", 1, 4, 80, Epilogue::kLogits,
                               FixedLinear(4, 80, cls, -254)));
  q.layers.push_back(
      Pointwise("b", "wh", 1, 4, 4, Epilogue::kLogits,
                FixedLinear(4, 4, std::vector<int8_t>(16, 1), 8)));
  q.unsigned_tensors = {"a", "b"};
  std::vector<uint8_t> input(kInputBytes, 0);
  for (int y = 0; y < 512; ++y) {
    for (int x = 0; x < 512; ++x) {
      input[(static_cast<size_t>(y) * 512 + x) * 3] =
          static_cast<uint8_t>(x / 4 + y / 4);
    }
  }
  absl::StatusOr<mc::IntDetectorOutput> want = mc::RunIntReference(q, input);
  ASSERT_TRUE(want.ok()) << want.status();
  for (int r = 0; r < 100; ++r) {
    const int32_t score = want->detections[r * 6 + 4];
    if (r < 80) {
      EXPECT_GT(score, 0) << r;
    } else {
      EXPECT_EQ(score, 0) << r;
      EXPECT_EQ(want->detections[r * 6 + 5], r - 80) << r;  // Index r - 80.
    }
  }
  ExpectAllMatch(q, input, *want, "gradient");
}

TEST(CpuDetector, RefusesBadOptionsInputsAndModels) {
  const mc::QuantizedDetector q = RandomDetector(ScaleKind::kPow2, 3);
  EXPECT_EQ(CpuDetector::Create(q, {.isa = "sse9"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::unique_ptr<CpuDetector>> d =
      CpuDetector::Create(q, {.threads = 1, .isa = "scalar"});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->Run(std::vector<uint8_t>(100)).status().code(),
            absl::StatusCode::kInvalidArgument);

  mc::QuantizedDetector missing = q;
  missing.layers[1].layer.inputs = {"nowhere"};
  EXPECT_EQ(CpuDetector::Create(missing).status().code(),
            absl::StatusCode::kInvalidArgument);
  mc::QuantizedDetector wrong_channels = q;
  wrong_channels.layers[2].layer.conv.in_channels = 9;
  EXPECT_EQ(CpuDetector::Create(wrong_channels).status().code(),
            absl::StatusCode::kInvalidArgument);
  mc::QuantizedDetector no_heads = q;
  no_heads.keypoint_logits = "pw1";
  EXPECT_EQ(CpuDetector::Create(no_heads).status().code(),
            absl::StatusCode::kInvalidArgument);
  mc::QuantizedDetector reads_logits = q;
  reads_logits.layers.back().layer.inputs = {"cls"};
  reads_logits.layers.back().layer.conv.in_channels = 80;
  reads_logits.layers.back().conv.weight.resize(4 * 80);
  EXPECT_EQ(CpuDetector::Create(reads_logits).status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST(CpuDetector, ConcurrentRunsAgree) {
  const mc::QuantizedDetector q = RandomDetector(ScaleKind::kFixed, 5);
  absl::StatusOr<std::unique_ptr<CpuDetector>> d =
      CpuDetector::Create(q, {.threads = 2});
  ASSERT_TRUE(d.ok()) << d.status();
  const std::vector<uint8_t> a = NoiseImage(1), b = BlockImage(2);
  absl::StatusOr<mc::IntDetectorOutput> want_a = (*d)->Run(a),
                                        want_b = (*d)->Run(b);
  ASSERT_TRUE(want_a.ok() && want_b.ok());
  std::vector<mc::IntDetectorOutput> got(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] { got[i] = *(*d)->Run(i % 2 ? b : a); });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 4; ++i) {
    const mc::IntDetectorOutput& want = i % 2 ? *want_b : *want_a;
    EXPECT_EQ(got[i].keypoints, want.keypoints) << i;
    EXPECT_EQ(got[i].detections, want.detections) << i;
  }
}

// The real model (cpu_detector_real_model sets FXSERVE_DETECTOR_ARTIFACT
// to fxtool_quantize_detector's artifact; elsewhere this skips).
TEST(CpuDetector, RealModelMatchesTheReferenceOnPhotos) {
  const char* artifact = std::getenv("FXSERVE_DETECTOR_ARTIFACT");
  if (artifact == nullptr || *artifact == '\0') {
    GTEST_SKIP() << "FXSERVE_DETECTOR_ARTIFACT is not set "
                    "(ctest -R cpu_detector_real_model sets it)";
  }
  absl::StatusOr<mc::QuantizedDetector> q = mc::LoadQuantizedDetector(artifact);
  ASSERT_TRUE(q.ok()) << q.status();
  for (const char* name : {"dog", "person"}) {
    absl::StatusOr<model::image::RgbImage> photo = model::image::ReadImage(
        std::string(FXSERVE_TEST_PHOTOS_DIR "/") + name + ".jpg");
    ASSERT_TRUE(photo.ok()) << photo.status();
    const std::vector<uint8_t> input = mc::ResizeToInput(*photo);
    absl::StatusOr<mc::IntDetectorOutput> want = mc::RunIntReference(*q, input);
    ASSERT_TRUE(want.ok()) << want.status();
    ExpectAllMatch(*q, input, *want, name);
  }
}

}  // namespace
}  // namespace fxserve::backends::cpu
