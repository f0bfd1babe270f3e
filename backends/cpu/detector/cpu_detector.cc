// Planning (shapes, buffers, packed weights, epilogue tables), the run's
// orchestration over the thread pool, the squeeze-excite's small 1x1 maps
// and the decode. Compiled for baseline x86-64: the AVX kernels live in
// detector_kernels_avx2.cc and detector_kernels_avx512.cc.
#include "backends/cpu/detector/cpu_detector.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <map>
#include <new>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "backends/cpu/detector/detector_kernels.h"

namespace fxserve::backends::cpu {

namespace mc = ::fxserve::model::centernet;
using ::fxserve::model::QuantizedLinear;
using ::fxserve::model::ScaleKind;
using namespace detector_internal;  // NOLINT: the kernels' own vocabulary.

namespace {

constexpr int kInputSize = 512;
constexpr int kGrid = mc::kGrid;
constexpr int kClasses = mc::kClasses;
constexpr int kTopK = 100;
constexpr int kWhShift = 6;
constexpr int64_t kSixthCode = 2730;
constexpr int kSixthFrac = 14;
constexpr int kSigmoidFrac = 15;
// The SIMD kernels' bounds (see detector_kernels.h).
constexpr int64_t kInt32Limit = (int64_t{1} << 31) - 1;
constexpr int kSimdMaxP = 13;         // Hard-swish: |h * r| < 2^31.
constexpr int kSimdMaxGateP = 16;     // Hard-sigmoid gate < 2^31.
constexpr int kSimdMaxAddShift = 22;  // 255 * 2^23 < 2^31.
// What the scalar kernels' int64 arithmetic covers (the contract's
// registers are far inside).
constexpr int kMinShift = -62;
constexpr int kMaxP = 30;
constexpr int kMaxAddShift = 40;
constexpr int kMaxK = 65536;  // |sum| <= 65536 * 255 * 128 < 2^31.

struct Range {
  int64_t lo, hi;
};
constexpr Range kInt8{-128, 127}, kUint8{0, 255}, kInt16{-32768, 32767};

int RoundUp(int v, int m) { return (v + m - 1) / m * m; }
int ChannelPad(int channels) {
  return RoundUp(channels, kChannelAlign) + kChannelAlign;
}

// TF SAME: pad_before = max(0, (ceil(in / s) - 1) * s + k - in) / 2.
int PadBefore(int in, int k, int s) {
  const int out = (in + s - 1) / s;
  return std::max(0, (out - 1) * s + k - in) / 2;
}

// rne(num / den) for den > 0.
int64_t RoundDivide(int64_t num, int64_t den) {
  int64_t q = num / den, r = num % den;
  if (r < 0) {
    --q;
    r += den;
  }
  if (2 * r > den || (2 * r == den && (q & 1))) ++q;
  return q;
}

// 64-byte aligned, zeroed bytes.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(size_t bytes) : size_(bytes) {
    if (bytes == 0) return;
    data_ =
        static_cast<uint8_t*>(::operator new[](bytes, std::align_val_t{64}));
    std::memset(data_, 0, bytes);
  }
  ~Buffer() {
    if (data_ != nullptr) ::operator delete[](data_, std::align_val_t{64});
  }
  Buffer(Buffer&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  Buffer& operator=(Buffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    return *this;
  }
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// One channel's epilogue: y = requant(x * mult, s1) into r1, or for
// hard-swish h = requant(x * mult, s1) into int16, r = clamp(h + 3 << p,
// 0, 6 << p), y = requant(h * r * 2730, s2) into r2.
struct ChannelEpilogue {
  int64_t xmax = 0;  // A bound on |x| (the fast path's bounds).
  int64_t mult = 1;
  int64_t mult_max = -1;  // A bound on the multiplier if set per run.
  int s1 = 1;
  Range r1{0, 0};
  int p = 0;
  int s2 = 1;
  Range r2{0, 0};
};

struct EpilogueData {
  std::vector<int64_t> rows;
  std::vector<int32_t> fast;  // Empty: no fast path.
  int fast_width = 0;
  // Per channel: the fast path's multiplier is mult << fast_mult_shift
  // (a first shift s <= 0 runs as shift 1 of mult * 2^(1 - s): exact).
  std::vector<int> fast_mult_shift;
  int c_pad = 0;
  bool left1 = false, left2 = false, hswish = false;
  int out_kind = kOutBytes;
  int offset = 0;

  EpilogueTable Table(const int64_t* rows_override = nullptr,
                      const int32_t* fast_override = nullptr) const {
    return {rows_override != nullptr ? rows_override : rows.data(),
            fast.empty()
                ? nullptr
                : (fast_override != nullptr ? fast_override : fast.data()),
            fast_width,
            c_pad,
            left1,
            left2,
            hswish,
            out_kind,
            offset};
  }
};

// The requantization registers of detector_kernels.h for shift s.
void SetRequant(EpilogueData& e, int first, int c, int s, Range r, bool* left) {
  auto set = [&](int row, int64_t v) {
    e.rows[static_cast<size_t>(first + row) * e.c_pad + c] = v;
  };
  int64_t rsh, mask, half, lsh, plo, phi;
  if (s > 0) {
    rsh = std::min(s, 50);
    mask = (int64_t{1} << rsh) - 1;
    half = int64_t{1} << (rsh - 1);
    lsh = 0;
    plo = std::numeric_limits<int64_t>::min();
    phi = std::numeric_limits<int64_t>::max();
  } else {
    rsh = 0;
    mask = 0;
    half = std::numeric_limits<int64_t>::max();
    lsh = std::min(-s, 15);
    plo = -(int64_t{1} << 15);
    phi = int64_t{1} << 15;
    *left = true;
  }
  set(0, rsh);
  set(1, mask);
  set(2, half);
  set(3, static_cast<int64_t>(uint64_t{1} << (63 - rsh)));
  set(4, lsh);
  set(5, plo);
  set(6, phi);
  set(7, r.lo);
  set(8, r.hi);
}

// Whether channel ch meets the fast path's bounds (detector_kernels.h).
bool FastOk(const ChannelEpilogue& ch, bool hswish) {
  constexpr int64_t k48 = int64_t{1} << 48, k31 = int64_t{1} << 31;
  const int64_t m = ch.mult_max >= 0 ? ch.mult_max : ch.mult;
  if (ch.s1 < 1 || ch.s1 > 49 || m < 0 || m >= k31 || ch.xmax < 0 ||
      ch.xmax >= k48) {
    return false;
  }
  if (ch.xmax > 0 && m >= k48 / ch.xmax) return false;  // |v| < 2^48.
  const int64_t v = ch.xmax * m;
  if ((v >> ch.s1) + 1 >= k31) return false;  // |q| <= v / 2^s1 + 1.
  if (!hswish) return true;
  if (ch.p < 0 || ch.p > kSimdMaxP || ch.s2 < 1 || ch.s2 > 49) return false;
  const int64_t v2 = int64_t{32768} * (int64_t{6} << ch.p) * kSixthCode;
  return v2 < k48 && (v2 >> ch.s2) + 1 < k31;
}

void SetFast(EpilogueData& e, int c, const ChannelEpilogue& ch, bool avx2) {
  const int w = e.fast_width;
  int32_t* block =
      e.fast.data() + static_cast<size_t>(c / w) * kFastEntries * w;
  const int lane = c % w;
  auto i32 = [&](int entry, int64_t v) {
    block[entry * w + lane] = static_cast<int32_t>(v);
  };
  auto i64 = [&](int even_entry, int64_t v) {
    std::memcpy(block + (even_entry + (lane & 1)) * w + 2 * (lane / 2), &v,
                sizeof(v));
  };
  auto stage = [&](int se, int he, int lo, int hi, int q, int s, Range r) {
    const int64_t hm1 = (int64_t{1} << (s - 1)) - 1;
    i64(se, s);
    i64(he, avx2 ? (int64_t{1} << 50) + hm1 : hm1);
    i32(lo, r.lo);
    i32(hi, r.hi);
    i32(q, static_cast<int64_t>(static_cast<int32_t>(
               static_cast<uint32_t>(uint64_t{1} << (50 - s)))));
  };
  i32(kFastM, ch.mult);
  stage(kFastSe, kFastHe, kFastLo1, kFastHi1, kFastQ1, ch.s1, ch.r1);
  i32(kFastP3, int64_t{3} << std::clamp(ch.p, 0, kSimdMaxP));
  i32(kFastP6, int64_t{6} << std::clamp(ch.p, 0, kSimdMaxP));
  stage(kFastS2e, kFastH2e, kFastLo2, kFastHi2, kFastQ2,
        std::clamp(ch.s2, 1, 49), ch.r2);
}

// The multiplier of channel c in both tables (a squeeze-excite's gates).
void SetMult(const EpilogueData& e, int64_t* rows, int32_t* fast, int c,
             int64_t m) {
  rows[static_cast<size_t>(kRowMult) * e.c_pad + c] = m;
  if (fast != nullptr) {
    const int w = e.fast_width;
    fast[static_cast<size_t>(c / w) * kFastEntries * w + kFastM * w + c % w] =
        static_cast<int32_t>(m << e.fast_mult_shift[c]);
  }
}

// fast_width: 16 (AVX-512), 8 (AVX2) or 0 (no fast path).
EpilogueData BuildEpilogue(const std::vector<ChannelEpilogue>& channels,
                           bool hswish, int out_kind, int offset,
                           int fast_width) {
  EpilogueData e;
  e.c_pad = ChannelPad(static_cast<int>(channels.size()));
  e.rows.assign(static_cast<size_t>(kEpilogueRows) * e.c_pad, 0);
  e.hswish = hswish;
  e.out_kind = out_kind;
  e.offset = offset;
  auto set = [&](int row, int c, int64_t v) {
    e.rows[static_cast<size_t>(row) * e.c_pad + c] = v;
  };
  for (int c = 0; c < e.c_pad; ++c) {
    const ChannelEpilogue ch = c < static_cast<int>(channels.size())
                                   ? channels[c]
                                   : ChannelEpilogue{};  // Padding.
    set(kRowMult, c, ch.mult);
    bool left1 = false, left2 = false;
    SetRequant(e, kRowRsh1, c, ch.s1, ch.r1, &left1);
    SetRequant(e, kRowRsh2, c, ch.s2, ch.r2, &left2);
    const int p = std::clamp(ch.p, 0, kMaxP);
    set(kRowP3, c, int64_t{3} << p);
    set(kRowP6, c, int64_t{6} << p);
    set(kRowShift1, c, ch.s1);
    set(kRowShift2, c, ch.s2);
    set(kRowP, c, ch.p);
    if (c < static_cast<int>(channels.size())) {
      e.left1 |= left1;
      e.left2 |= left2 && hswish;
    }
  }
  std::vector<ChannelEpilogue> fast_channels = channels;
  e.fast_mult_shift.assign(e.c_pad, 0);
  bool fast = fast_width > 0;
  for (size_t c = 0; c < fast_channels.size() && fast; ++c) {
    ChannelEpilogue& ch = fast_channels[c];
    if (ch.s1 <= 0) {
      const int k = 1 - ch.s1;
      if (k > 30) {
        fast = false;
        break;
      }
      ch.mult <<= k;
      if (ch.mult_max >= 0) ch.mult_max <<= k;
      ch.s1 = 1;
      e.fast_mult_shift[c] = k;
    }
    fast = FastOk(ch, hswish);
  }
  if (fast) {
    e.fast_width = fast_width;
    e.fast.assign(
        static_cast<size_t>(e.c_pad / fast_width) * kFastEntries * fast_width,
        0);
    for (int c = 0; c < e.c_pad; ++c) {
      ChannelEpilogue ch = c < static_cast<int>(channels.size())
                               ? fast_channels[c]
                               : ChannelEpilogue{};
      if (c >= static_cast<int>(channels.size())) ch.s2 = 1;
      SetFast(e, c, ch, fast_width == 8);
    }
  } else {
    e.fast_mult_shift.clear();
  }
  return e;
}

// A conv on a squeeze-excite's 1 x 1 x C maps, computed as the reference
// has it (int64; 1 x 1 convs as exact int32 dot products).
struct SmallConv {
  mc::ConvLayer geometry;  // Filters and biases empty.
  QuantizedLinear w;
  bool fixed = false;
  std::vector<int> out_frac, pre_frac;
  Range range{0, 0};
};

enum class StepKind {
  kGemm,
  kDepthwise,
  kSqueezeExcite,
  kAdd,
  kResize,
  kConcat
};

struct Tensor {
  int h = 0, w = 0, c = 0;
  bool int16 = false;  // Logits.
  int offset = 0;      // Bytes: u = v + offset.
  int slot = -1;
  int last_use = -1;  // Step index; INT_MAX for the heads.
  size_t bytes() const {
    const size_t row = static_cast<size_t>(c) * (int16 ? 2 : 1);
    return static_cast<size_t>(h) * w * row + kMaxTileRows * row + kSlackExtra;
  }
};

struct Step {
  StepKind kind = StepKind::kGemm;
  std::string name;
  int in0 = -1, in1 = -1, out = -1;
  bool simd = true;  // Else the scalar kernels.
  // Convs.
  int k = 1, stride = 1, pad_y = 0, pad_x = 0;
  bool im2col = false;
  int kdim = 0;                      // Gemm: k * k * in.
  std::vector<int8_t> w_raw;         // Gemm [n][kdim]; depthwise [c][k * k].
  std::vector<int32_t> bias_raw;     // [c_pad] (depthwise: [64 k + 64]).
  std::vector<int32_t> bias_folded;  // bias - offset * sum of weights.
  Buffer packed;                     // The ISA's weight layout.
  std::vector<uint8_t> pad;          // Depthwise: c + 64 codes of 0.
  std::vector<int32_t> bias_packed;  // Depthwise, AVX-512: see the kernel.
  EpilogueData epi;
  EpilogueData epi_b;  // Concat: the second input's.
  // Add.
  std::vector<int32_t> sa, sb;
  // Squeeze-excite.
  std::vector<int> se_fx, se_fm, se_p;
  Range se_mean_range{0, 0};
  SmallConv se_reduce, se_expand;
  bool se_sigmoid = false;
};

absl::Status Invalid(const std::string& layer, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(layer, ": ", what));
}

}  // namespace

struct CpuDetector::Plan {
  Isa isa = Isa::kScalar;
  const Kernels* kernels = nullptr;  // The ISA's.
  std::vector<Tensor> tensors;
  std::vector<Step> steps;
  std::vector<size_t> slot_bytes;
  int input = -1;
  int keypoints = -1, wh = -1;
};

struct CpuDetector::Workspace {
  std::vector<Buffer> slots;
  std::vector<std::vector<int64_t>> se_rows;  // By step: gated tables.
  std::vector<std::vector<int32_t>> se_fast;
};

namespace {

// Per-thread scratch: im2col rows and AVX2's int16 rows (gemm), tap
// pointers (depthwise).
struct ThreadScratch {
  std::vector<uint8_t> im2col;
  std::vector<int16_t> x16;
  std::vector<const uint8_t*> taps;
};
ThreadScratch& Scratch() {
  thread_local ThreadScratch scratch;
  return scratch;
}

const Kernels& KernelsFor(Isa isa) {
#if defined(FXSERVE_CPU_DETECTOR_X86_KERNELS)
  if (isa == Isa::kAvx2) return Avx2Kernels();
  if (isa == Isa::kAvx512Vnni) return Avx512VnniKernels();
#endif
  (void)isa;
  return ScalarKernels();
}

// Builds the plan: one step per live layer, in order.
class Planner {
 public:
  Planner(const mc::QuantizedDetector& q, Isa isa, CpuDetector::Plan& plan)
      : q_(q), isa_(isa), plan_(plan) {}

  absl::Status Build();

 private:
  Range RangeOf(const std::string& name) const {
    return q_.unsigned_tensors.count(name) ? kUint8 : kInt8;
  }
  std::vector<int> F(const std::string& name, int channels) const {
    return q_.Frac(name, channels);
  }
  bool Fixed() const { return q_.scales == ScaleKind::kFixed; }
  // The fast epilogue's block width for a step on the SIMD kernels.
  int FastWidth(bool simd) const {
    if (!simd) return 0;
    return isa_ == Isa::kAvx512Vnni ? 16 : isa_ == Isa::kAvx2 ? 8 : 0;
  }
  static int64_t MaxAbs(const Tensor& t) { return t.offset == 128 ? 128 : 255; }
  int NewTensor(int h, int w, int c, bool int16, const std::string& name) {
    Tensor t;
    t.h = h;
    t.w = w;
    t.c = c;
    t.int16 = int16;
    t.offset = int16 || RangeOf(name).lo == 0 ? 0 : 128;
    plan_.tensors.push_back(t);
    return static_cast<int>(plan_.tensors.size()) - 1;
  }
  absl::StatusOr<int> Input(const mc::Layer& l, int i) const {
    if (i >= static_cast<int>(l.inputs.size())) {
      return Invalid(l.output, absl::StrCat("needs ", i + 1, " inputs"));
    }
    auto it = current_.find(l.inputs[i]);
    if (it == current_.end()) {
      return Invalid(l.output,
                     absl::StrCat("reads ", l.inputs[i], ", never made"));
    }
    if (plan_.tensors[it->second].int16) {
      return absl::UnimplementedError(
          absl::StrCat(l.output, " reads the 16-bit logits ", l.inputs[i],
                       ": only the decode reads logits"));
    }
    return it->second;
  }
  absl::Status CheckLinear(const std::string& name, const mc::ConvLayer& g,
                           const QuantizedLinear& w) const;
  absl::StatusOr<std::vector<ChannelEpilogue>> ConvEpilogue(
      const std::string& name, const mc::ConvLayer& g, const QuantizedLinear& w,
      const std::string& out, bool* simd) const;
  absl::Status Conv(const mc::QuantizedDetectorLayer& ql, Step& s);
  absl::Status SqueezeExcite(const mc::QuantizedDetectorLayer& ql, Step& s);
  absl::Status Add(const mc::Layer& l, Step& s);
  absl::Status Resize(const mc::Layer& l, Step& s);
  absl::Status Concat(const mc::Layer& l, Step& s);
  void Pack(Step& s, int n);
  void PackDepthwise(Step& s, int c);
  void AssignSlots();

  const mc::QuantizedDetector& q_;
  Isa isa_;
  CpuDetector::Plan& plan_;
  std::map<std::string, int> current_;  // Tensor name -> latest tensor.
};

absl::Status Planner::CheckLinear(const std::string& name,
                                  const mc::ConvLayer& g,
                                  const QuantizedLinear& w) const {
  if (g.kernel < 1 || g.stride < 1 || g.out_channels < 1 || g.in_channels < 1) {
    return Invalid(name, "conv geometry out of range");
  }
  if (g.depthwise && g.in_channels != g.out_channels) {
    return Invalid(name, "a depthwise conv must keep its channels");
  }
  const size_t per = static_cast<size_t>(g.kernel) * g.kernel *
                     (g.depthwise ? 1 : g.in_channels);
  const size_t out = g.out_channels;
  if (per > static_cast<size_t>(kMaxK)) {
    return Invalid(name, "more than 65536 products per output");
  }
  if (w.weight.size() != per * out || w.bias.size() != out ||
      w.shift.size() != out || (Fixed() && w.mult.size() != out)) {
    return Invalid(name, "weights, biases, shifts or multipliers misshapen");
  }
  for (int8_t s : w.shift) {
    if (s < kMinShift) return Invalid(name, "a shift below -62");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ChannelEpilogue>> Planner::ConvEpilogue(
    const std::string& name, const mc::ConvLayer& g, const QuantizedLinear& w,
    const std::string& out, bool* simd) const {
  const int n = g.out_channels;
  const std::vector<int> out_frac = F(out, n), pre_frac = F(g.node, n);
  const Range range =
      g.epilogue == mc::Epilogue::kLogits ? kInt16 : RangeOf(out);
  std::vector<ChannelEpilogue> ch(n);
  for (int o = 0; o < n; ++o) {
    ChannelEpilogue& e = ch[o];
    e.mult = Fixed() ? w.mult[o] : 1;
    e.s1 = w.shift[o];
    e.r1 = range;
    switch (g.epilogue) {
      case mc::Epilogue::kNone:
      case mc::Epilogue::kLogits:
        break;
      case mc::Epilogue::kRelu:
        e.r1.lo = std::max<int64_t>(e.r1.lo, 0);
        break;
      case mc::Epilogue::kHardSwish: {
        const int p = pre_frac[o];
        if (p < 0 || p > kMaxP) {
          return Invalid(
              name, absl::StrCat("hard-swish P ", p, " outside 0..", kMaxP));
        }
        if (p > kSimdMaxP) *simd = false;
        e.r1 = kInt16;
        e.p = p;
        e.s2 = 2 * p + kSixthFrac - out_frac[o];
        if (e.s2 < kMinShift) return Invalid(name, "a shift below -62");
        e.r2 = range;
        break;
      }
    }
  }
  return ch;
}

// Weights in the ISA's gemm layout (detector_kernels.h).
void Planner::Pack(Step& s, int n) {
  const int k = s.kdim;
  if (isa_ == Isa::kAvx512Vnni) {
    const int k4 = RoundUp(k, 4);
    const int blocks = (n + 15) / 16;
    s.packed = Buffer(static_cast<size_t>(blocks) * 16 * k4);
    int8_t* p = reinterpret_cast<int8_t*>(s.packed.data());
    for (int g = 0; 4 * g < blocks; ++g) {
      const int nb = std::min(4, blocks - 4 * g);
      int8_t* group = p + static_cast<size_t>(g) * k4 * 64;
      for (int j = 0; j < k4 / 4; ++j) {
        for (int b = 0; b < nb; ++b) {
          for (int r = 0; r < 16; ++r) {
            const int o = (4 * g + b) * 16 + r;
            for (int t = 0; t < 4; ++t) {
              const int i = 4 * j + t;
              group[((j * nb + b) * 16 + r) * 4 + t] =
                  o < n && i < k ? s.w_raw[static_cast<size_t>(o) * k + i] : 0;
            }
          }
        }
      }
    }
  } else if (isa_ == Isa::kAvx2) {
    const int k2 = RoundUp(k, 2);
    const int blocks = (n + 7) / 8;
    s.packed = Buffer(static_cast<size_t>(blocks) * 8 * k2 * sizeof(int16_t));
    int16_t* p = reinterpret_cast<int16_t*>(s.packed.data());
    for (int g = 0; 2 * g < blocks; ++g) {
      const int nb = std::min(2, blocks - 2 * g);
      int16_t* group = p + static_cast<size_t>(g) * k2 * 16;
      for (int j = 0; j < k2 / 2; ++j) {
        for (int b = 0; b < nb; ++b) {
          for (int r = 0; r < 8; ++r) {
            const int o = (2 * g + b) * 8 + r;
            for (int t = 0; t < 2; ++t) {
              const int i = 2 * j + t;
              group[((j * nb + b) * 8 + r) * 2 + t] =
                  o < n && i < k ? s.w_raw[static_cast<size_t>(o) * k + i] : 0;
            }
          }
        }
      }
    }
  }
}

// Depthwise weights in the ISA's layout (detector_kernels.h).
void Planner::PackDepthwise(Step& s, int c) {
  const int taps = s.kdim;
  auto weight = [&](int ch, int t) -> int8_t {
    return ch < c && t < taps ? s.w_raw[static_cast<size_t>(ch) * taps + t] : 0;
  };
  if (isa_ == Isa::kAvx512Vnni) {
    const int quads = (taps + 3) / 4;
    const int groups = c / 64;
    const int chunks = (c - 64 * groups + 15) / 16;
    s.packed = Buffer(static_cast<size_t>(groups) * quads * 256 +
                      static_cast<size_t>(chunks) * quads * 64);
    int8_t* p = reinterpret_cast<int8_t*>(s.packed.data());
    for (int g = 0; g < groups; ++g) {
      for (int q = 0; q < quads; ++q) {
        for (int j = 0; j < 4; ++j) {
          for (int d = 0; d < 16; ++d) {
            const int ch = 64 * g + 16 * (d / 4) + 4 * j + d % 4;
            for (int t = 0; t < 4; ++t) *p++ = weight(ch, 4 * q + t);
          }
        }
      }
    }
    for (int i = 0; i < chunks; ++i) {
      const int c0 = 64 * groups + 16 * i;
      for (int q = 0; q < quads; ++q) {
        for (int j = 0; j < 4; ++j) {
          for (int d = 0; d < 4; ++d) {
            for (int t = 0; t < 4; ++t) {
              *p++ = weight(c0 + 4 * j + d, 4 * q + t);
            }
          }
        }
      }
    }
  } else if (isa_ == Isa::kAvx2) {
    const int pairs = (taps + 1) / 2;
    const int groups = (c + 15) / 16;
    s.packed =
        Buffer(static_cast<size_t>(groups) * pairs * 32 * sizeof(int16_t));
    int16_t* p = reinterpret_cast<int16_t*>(s.packed.data());
    for (int g = 0; g < groups; ++g) {
      for (int q = 0; q < pairs; ++q) {
        for (int h = 0; h < 2; ++h) {
          for (int k = 0; k < 8; ++k) {
            for (int t = 0; t < 2; ++t) {
              *p++ = weight(16 * g + 8 * h + k, 2 * q + t);
            }
          }
        }
      }
    }
  }
}

absl::Status Planner::Conv(const mc::QuantizedDetectorLayer& ql, Step& s) {
  const mc::Layer& l = ql.layer;
  const mc::ConvLayer& g = l.conv;
  absl::StatusOr<int> in = Input(l, 0);
  if (!in.ok()) return in.status();
  const Tensor x = plan_.tensors[*in];
  if (x.c != g.in_channels) {
    return Invalid(g.node, absl::StrCat(x.c, " input channels, the conv takes ",
                                        g.in_channels));
  }
  if (absl::Status st = CheckLinear(l.output, g, ql.conv); !st.ok()) return st;
  const QuantizedLinear& w = ql.conv;
  const int n = g.out_channels;
  s.kind = g.depthwise ? StepKind::kDepthwise : StepKind::kGemm;
  s.in0 = *in;
  s.k = g.kernel;
  s.stride = g.stride;
  s.pad_y = PadBefore(x.h, g.kernel, g.stride);
  s.pad_x = PadBefore(x.w, g.kernel, g.stride);
  s.im2col = !g.depthwise && (g.kernel != 1 || g.stride != 1);
  s.kdim = g.kernel * g.kernel * (g.depthwise ? 1 : g.in_channels);
  s.w_raw = w.weight;
  const bool logits = g.epilogue == mc::Epilogue::kLogits;
  absl::StatusOr<std::vector<ChannelEpilogue>> ch =
      ConvEpilogue(l.output, g, w, l.output, &s.simd);
  if (!ch.ok()) return ch.status();
  s.out = NewTensor((x.h + g.stride - 1) / g.stride,
                    (x.w + g.stride - 1) / g.stride, n, logits, l.output);
  const int c_pad = ChannelPad(n);
  s.bias_raw.assign(c_pad, 0);
  s.bias_folded.assign(c_pad, 0);
  // The SIMD sums are exact if every value they can reach fits in int32.
  const int64_t vmax = x.offset == 128 ? 128 : 255;
  if (g.depthwise && s.kdim > kMaxDepthwiseTaps - 3) s.simd = false;
  for (int o = 0; o < n; ++o) {
    int64_t abs_sum = 0, sum = 0;
    for (int i = 0; i < s.kdim; ++i) {
      const int64_t wv = w.weight[static_cast<size_t>(o) * s.kdim + i];
      abs_sum += wv < 0 ? -wv : wv;
      sum += wv;
    }
    const int64_t b = w.bias[o];
    const int64_t bound = (b < 0 ? -b : b) + abs_sum * vmax;
    if (bound > kInt32Limit) s.simd = false;
    (*ch)[o].xmax = bound;
    s.bias_raw[o] = w.bias[o];
    if (s.simd) {
      s.bias_folded[o] = static_cast<int32_t>(b - x.offset * sum);
    }
  }
  if (s.kind == StepKind::kDepthwise) {
    // Padding taps read the code of 0, so they count in every sum: the
    // folded bias above covers all k * k taps. The AVX-512 kernel reads
    // biases in groups of 64 channels.
    const int padded = RoundUp(n, 64) + 64;
    s.bias_raw.resize(padded, 0);
    s.bias_folded.resize(padded, 0);
    s.pad.assign(static_cast<size_t>(n) + 64, static_cast<uint8_t>(x.offset));
    if (s.simd) PackDepthwise(s, n);
    if (s.simd && isa_ == Isa::kAvx512Vnni) {
      // Accumulator j, dword d: channel c0 + 16 (d / 4) + 4 j + d % 4 in a
      // group of 64, c0 + 4 j + d % 4 in a chunk of 16 (4 pixels).
      const int groups = n / 64, chunks = (n - 64 * groups + 15) / 16;
      for (int b = 0; b < groups + chunks; ++b) {
        for (int j = 0; j < 4; ++j) {
          for (int d = 0; d < 16; ++d) {
            s.bias_packed.push_back(
                b < groups
                    ? s.bias_folded[64 * b + 16 * (d / 4) + 4 * j + d % 4]
                    : s.bias_folded[64 * groups + 16 * (b - groups) + 4 * j +
                                    d % 4]);
          }
        }
      }
    }
  } else {
    if (s.simd) Pack(s, n);
  }
  s.epi = BuildEpilogue(*ch, g.epilogue == mc::Epilogue::kHardSwish,
                        logits ? kOutInt16 : kOutBytes,
                        plan_.tensors[s.out].offset, FastWidth(s.simd));
  return absl::OkStatus();
}

absl::Status Planner::SqueezeExcite(const mc::QuantizedDetectorLayer& ql,
                                    Step& s) {
  const mc::Layer& l = ql.layer;
  absl::StatusOr<int> in = Input(l, 0);
  if (!in.ok()) return in.status();
  const Tensor x = plan_.tensors[*in];
  s.kind = StepKind::kSqueezeExcite;
  s.in0 = *in;
  s.se_fx = F(l.inputs[0], x.c);
  s.se_fm = F(l.output + "#mean", x.c);
  s.se_mean_range = RangeOf(l.output + "#mean");
  const int64_t count = int64_t{x.h} * x.w;
  for (int ch = 0; ch < x.c; ++ch) {
    const int a = std::max(s.se_fm[ch] - s.se_fx[ch], 0),
              b = std::max(s.se_fx[ch] - s.se_fm[ch], 0);
    if (a > 24 || b > 24 || count > (int64_t{1} << 24)) {
      return Invalid(l.output, "mean binary points or map size out of range");
    }
  }
  // The reducing conv on the 1 x 1 mean, then the expanding one into 16
  // bits (logits).
  if (l.conv.in_channels != x.c) {
    return Invalid(l.conv.node, absl::StrCat(x.c,
                                             " input channels, the conv "
                                             "takes ",
                                             l.conv.in_channels));
  }
  mc::ConvLayer expand = l.expand;
  expand.epilogue = mc::Epilogue::kLogits;
  if (expand.in_channels != l.conv.out_channels) {
    return Invalid(l.expand.node, absl::StrCat(l.conv.out_channels,
                                               " input channels, the "
                                               "conv takes ",
                                               expand.in_channels));
  }
  if (expand.out_channels != x.c) {
    return Invalid(l.output, absl::StrCat("the gate has ", expand.out_channels,
                                          " channels, x ", x.c));
  }
  const mc::ConvLayer* reduce_geometry = &l.conv;
  const mc::ConvLayer* expand_geometry = &expand;
  for (auto [conv, w, out] :
       {std::tuple{reduce_geometry, &ql.conv, &s.se_reduce},
        std::tuple{expand_geometry, &ql.expand, &s.se_expand}}) {
    if (absl::Status st = CheckLinear(conv->node, *conv, *w); !st.ok()) {
      return st;
    }
    bool unused = true;
    if (absl::StatusOr<std::vector<ChannelEpilogue>> e =
            ConvEpilogue(conv->node, *conv, *w, conv->node, &unused);
        !e.ok()) {
      return e.status();
    }
    out->geometry = *conv;
    out->geometry.filter = {};
    out->geometry.bias = {};
    out->w = *w;
    out->fixed = Fixed();
    out->out_frac = F(conv->node, conv->out_channels);
    out->pre_frac = F(conv->node, conv->out_channels);
    out->range =
        conv->epilogue == mc::Epilogue::kLogits ? kInt16 : RangeOf(conv->node);
  }
  // The gating: y = requant(x * g, F(x) + G - F(y)); g is set per run.
  s.se_sigmoid = l.gate == mc::Gate::kSigmoid;
  s.se_p = F(l.expand.node, x.c);
  const std::vector<int> fy = F(l.output, x.c);
  s.out = NewTensor(x.h, x.w, x.c, false, l.output);
  std::vector<ChannelEpilogue> ch(x.c);
  for (int c = 0; c < x.c; ++c) {
    const int p = s.se_p[c];
    if (!s.se_sigmoid && (p < 0 || p > kMaxP)) {
      return Invalid(l.output,
                     absl::StrCat("gate P ", p, " outside 0..", kMaxP));
    }
    if (!s.se_sigmoid && p > kSimdMaxGateP) s.simd = false;
    ch[c].s1 =
        s.se_fx[c] + (s.se_sigmoid ? kSigmoidFrac : p + kSixthFrac) - fy[c];
    if (ch[c].s1 < kMinShift) return Invalid(l.output, "a shift below -62");
    ch[c].r1 = RangeOf(l.output);
    ch[c].xmax = MaxAbs(x);
    ch[c].mult_max =
        s.se_sigmoid ? 32768 : (int64_t{6} << std::min(p, kMaxP)) * kSixthCode;
  }
  s.epi = BuildEpilogue(ch, false, kOutBytes, plan_.tensors[s.out].offset,
                        FastWidth(s.simd));
  return absl::OkStatus();
}

absl::Status Planner::Add(const mc::Layer& l, Step& s) {
  absl::StatusOr<int> a = Input(l, 0);
  if (!a.ok()) return a.status();
  absl::StatusOr<int> b = Input(l, 1);
  if (!b.ok()) return b.status();
  const Tensor ta = plan_.tensors[*a], tb = plan_.tensors[*b];
  if (ta.h != tb.h || ta.w != tb.w || ta.c != tb.c) {
    return Invalid(l.output, "adds unequal shapes");
  }
  s.kind = StepKind::kAdd;
  s.in0 = *a;
  s.in1 = *b;
  const std::vector<int> fa = F(l.inputs[0], ta.c), fb = F(l.inputs[1], ta.c),
                         fy = F(l.output, ta.c);
  s.out = NewTensor(ta.h, ta.w, ta.c, false, l.output);
  std::vector<ChannelEpilogue> ch(ta.c);
  const int c_pad = ChannelPad(ta.c);
  s.sa.assign(c_pad, 0);
  s.sb.assign(c_pad, 0);
  for (int c = 0; c < ta.c; ++c) {
    const int m = std::max(fa[c], fb[c]);
    s.sa[c] = m - fa[c];
    s.sb[c] = m - fb[c];
    if (s.sa[c] > kMaxAddShift || s.sb[c] > kMaxAddShift) {
      return Invalid(l.output, "binary points too far apart");
    }
    if (s.sa[c] > kSimdMaxAddShift || s.sb[c] > kSimdMaxAddShift) {
      s.simd = false;
    }
    ch[c].s1 = m - fy[c];
    if (ch[c].s1 < kMinShift) return Invalid(l.output, "a shift below -62");
    ch[c].r1 = RangeOf(l.output);
    ch[c].xmax = (MaxAbs(ta) << s.sa[c]) + (MaxAbs(tb) << s.sb[c]);
  }
  s.epi = BuildEpilogue(ch, false, kOutBytes, plan_.tensors[s.out].offset,
                        FastWidth(s.simd));
  return absl::OkStatus();
}

absl::Status Planner::Resize(const mc::Layer& l, Step& s) {
  absl::StatusOr<int> in = Input(l, 0);
  if (!in.ok()) return in.status();
  const Tensor x = plan_.tensors[*in];
  s.kind = StepKind::kResize;
  s.in0 = *in;
  const std::vector<int> fx = F(l.inputs[0], x.c), fy = F(l.output, x.c);
  s.out = NewTensor(2 * x.h, 2 * x.w, x.c, false, l.output);
  std::vector<ChannelEpilogue> ch(x.c);
  for (int c = 0; c < x.c; ++c) {
    ch[c].s1 = fx[c] + 2 - fy[c];
    if (ch[c].s1 < kMinShift) return Invalid(l.output, "a shift below -62");
    ch[c].r1 = RangeOf(l.output);
    ch[c].xmax = 4 * MaxAbs(x);
  }
  s.epi = BuildEpilogue(ch, false, kOutBytes, plan_.tensors[s.out].offset,
                        FastWidth(s.simd));
  return absl::OkStatus();
}

absl::Status Planner::Concat(const mc::Layer& l, Step& s) {
  absl::StatusOr<int> a = Input(l, 0);
  if (!a.ok()) return a.status();
  absl::StatusOr<int> b = Input(l, 1);
  if (!b.ok()) return b.status();
  const Tensor ta = plan_.tensors[*a], tb = plan_.tensors[*b];
  if (ta.h != tb.h || ta.w != tb.w) {
    return Invalid(l.output, "concats unequal maps");
  }
  s.kind = StepKind::kConcat;
  s.in0 = *a;
  s.in1 = *b;
  const int c = ta.c + tb.c;
  const std::vector<int> fa = F(l.inputs[0], ta.c), fb = F(l.inputs[1], tb.c),
                         fy = F(l.output, c);
  s.out = NewTensor(ta.h, ta.w, c, false, l.output);
  // One table per input, indexed by its channels.
  std::vector<ChannelEpilogue> ch_a(ta.c), ch_b(tb.c);
  for (int i = 0; i < c; ++i) {
    ChannelEpilogue& e = i < ta.c ? ch_a[i] : ch_b[i - ta.c];
    e.s1 = (i < ta.c ? fa[i] : fb[i - ta.c]) - fy[i];
    if (e.s1 < kMinShift) return Invalid(l.output, "a shift below -62");
    e.r1 = RangeOf(l.output);
    e.r1.lo = std::max<int64_t>(e.r1.lo, 0);  // The relu.
    e.xmax = MaxAbs(i < ta.c ? ta : tb);
  }
  const int offset = plan_.tensors[s.out].offset;
  s.epi = BuildEpilogue(ch_a, false, kOutBytes, offset, FastWidth(s.simd));
  s.epi_b = BuildEpilogue(ch_b, false, kOutBytes, offset, FastWidth(s.simd));
  return absl::OkStatus();
}

// Buffers by liveness: a tensor takes a slot freed by tensors no later
// step reads (best fit, growing a slot if none is large enough).
void Planner::AssignSlots() {
  std::vector<Tensor>& t = plan_.tensors;
  for (int i = 0; i < static_cast<int>(plan_.steps.size()); ++i) {
    const Step& s = plan_.steps[i];
    for (int in : {s.in0, s.in1}) {
      if (in >= 0) t[in].last_use = std::max(t[in].last_use, i);
    }
  }
  for (int head : {plan_.keypoints, plan_.wh}) {
    t[head].last_use = std::numeric_limits<int>::max();
  }
  std::vector<size_t>& sizes = plan_.slot_bytes;
  std::vector<int> free;
  auto take = [&](int id) {
    const size_t need = t[id].bytes();
    int best = -1;
    for (int slot : free) {
      if (sizes[slot] >= need && (best < 0 || sizes[slot] < sizes[best])) {
        best = slot;
      }
    }
    if (best < 0 && !free.empty()) {
      best = *std::max_element(free.begin(), free.end(), [&](int a, int b) {
        return sizes[a] < sizes[b];
      });
    }
    if (best < 0) {
      sizes.push_back(0);
      best = static_cast<int>(sizes.size()) - 1;
    } else {
      free.erase(std::find(free.begin(), free.end(), best));
    }
    sizes[best] = std::max(sizes[best], need);
    t[id].slot = best;
  };
  take(plan_.input);
  if (t[plan_.input].last_use < 0) free.push_back(t[plan_.input].slot);
  for (int i = 0; i < static_cast<int>(plan_.steps.size()); ++i) {
    const Step& s = plan_.steps[i];
    take(s.out);
    for (int in : {s.in0, s.in1, s.out}) {
      if (in >= 0 && t[in].last_use <= i && t[in].slot >= 0 &&
          std::find(free.begin(), free.end(), t[in].slot) == free.end()) {
        free.push_back(t[in].slot);
      }
    }
  }
}

absl::Status Planner::Build() {
  plan_.input = NewTensor(kInputSize, kInputSize, 3, false, "");
  plan_.tensors[plan_.input].offset = 0;  // UQ(8, 0).
  current_[q_.input] = plan_.input;
  std::vector<Step> steps;
  for (const mc::QuantizedDetectorLayer& ql : q_.layers) {
    const mc::Layer& l = ql.layer;
    Step s;
    s.name = l.output;
    absl::Status st;
    switch (l.kind) {
      case mc::LayerKind::kConv:
        st = Conv(ql, s);
        break;
      case mc::LayerKind::kSqueezeExcite:
        st = SqueezeExcite(ql, s);
        break;
      case mc::LayerKind::kAdd:
        st = Add(l, s);
        break;
      case mc::LayerKind::kResize2x:
        st = Resize(l, s);
        break;
      case mc::LayerKind::kConcat:
        st = Concat(l, s);
        break;
      default:
        st = absl::InvalidArgumentError(
            absl::StrCat(l.output, ": unknown layer kind"));
    }
    if (!st.ok()) return st;
    current_[l.output] = s.out;
    steps.push_back(std::move(s));
  }
  auto head = [&](const std::string& name, int c) -> int {
    auto it = current_.find(name);
    if (it == current_.end()) return -1;
    const Tensor& t = plan_.tensors[it->second];
    return t.h == kGrid && t.w == kGrid && t.c == c ? it->second : -1;
  };
  plan_.keypoints = head(q_.keypoint_logits, kClasses);
  plan_.wh = head(q_.wh_logits, 4);
  if (plan_.keypoints < 0 || plan_.wh < 0) {
    return absl::InvalidArgumentError("the heads are not 128 x 128 x (80, 4)");
  }
  // Only the layers the heads depend on run.
  std::vector<bool> needed(plan_.tensors.size(), false);
  needed[plan_.keypoints] = needed[plan_.wh] = true;
  std::vector<bool> live(steps.size(), false);
  for (int i = static_cast<int>(steps.size()) - 1; i >= 0; --i) {
    if (!needed[steps[i].out]) continue;
    live[i] = true;
    for (int in : {steps[i].in0, steps[i].in1}) {
      if (in >= 0) needed[in] = true;
    }
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    if (live[i]) plan_.steps.push_back(std::move(steps[i]));
  }
  AssignSlots();
  return absl::OkStatus();
}

// ---- Run ----

// The reference's conv on small int64 maps (a squeeze-excite's 1 x 1).
std::vector<int64_t> RunSmallConv(const SmallConv& s,
                                  const std::vector<int64_t>& x, int h, int w,
                                  int* oh_out, int* ow_out) {
  const mc::ConvLayer& g = s.geometry;
  const int k = g.kernel;
  const int oh = (h + g.stride - 1) / g.stride,
            ow = (w + g.stride - 1) / g.stride;
  const int pad_y = PadBefore(h, k, g.stride),
            pad_x = PadBefore(w, k, g.stride);
  const int in = g.in_channels;
  const int per = k * k * (g.depthwise ? 1 : in);
  std::vector<int64_t> y(static_cast<size_t>(oh) * ow * g.out_channels);
  // A 1 x 1 conv of a 1 x 1 map of 8-bit codes (every squeeze-excite): an
  // int16 dot product, exact in int32 (|sum| <= 65536 * 255 * 128 < 2^31).
  const bool dot = h == 1 && w == 1 && k == 1 && !g.depthwise &&
                   std::all_of(x.begin(), x.end(), [](int64_t v) {
                     return v >= -32768 && v <= 32767;
                   });
  std::vector<int16_t> x16, w16;
  if (dot) {
    x16.assign(x.begin(), x.end());
    w16.assign(s.w.weight.begin(), s.w.weight.end());
  }
  for (int oy = 0; oy < oh; ++oy) {
    for (int ox = 0; ox < ow; ++ox) {
      for (int o = 0; o < g.out_channels; ++o) {
        const int8_t* wo = &s.w.weight[static_cast<size_t>(o) * per];
        int64_t acc = 0;
        if (dot) {
          const int16_t* wd = &w16[static_cast<size_t>(o) * per];
          int32_t sum = 0;
          for (int ci = 0; ci < in; ++ci) sum += x16[ci] * wd[ci];
          acc = sum;
        }
        for (int ky = 0; ky < k && !dot; ++ky) {
          const int iy = oy * g.stride - pad_y + ky;
          if (iy < 0 || iy >= h) continue;
          for (int kx = 0; kx < k; ++kx) {
            const int ix = ox * g.stride - pad_x + kx;
            if (ix < 0 || ix >= w) continue;
            const int64_t* xp = &x[(static_cast<size_t>(iy) * w + ix) * in];
            if (g.depthwise) {
              acc += xp[o] * wo[ky * k + kx];
            } else {
              const int8_t* wt = wo + (ky * k + kx) * in;
              for (int ci = 0; ci < in; ++ci) acc += xp[ci] * wt[ci];
            }
          }
        }
        int64_t v = acc + s.w.bias[o];
        if (s.fixed) v *= s.w.mult[o];
        const int sh = s.w.shift[o];
        int64_t out = 0;
        switch (g.epilogue) {
          case mc::Epilogue::kNone:
          case mc::Epilogue::kLogits:
            out = RequantScalar(v, sh, s.range.lo, s.range.hi);
            break;
          case mc::Epilogue::kRelu:
            out = std::max<int64_t>(
                0, RequantScalar(v, sh, s.range.lo, s.range.hi));
            break;
          case mc::Epilogue::kHardSwish: {
            const int p = s.pre_frac[o];
            const int64_t hh = RequantScalar(v, sh, kInt16.lo, kInt16.hi);
            const int64_t r =
                std::clamp<int64_t>(hh + (int64_t{3} << p), 0, int64_t{6} << p);
            out = RequantScalar(hh * r * kSixthCode,
                                2 * p + kSixthFrac - s.out_frac[o], s.range.lo,
                                s.range.hi);
            break;
          }
        }
        y[(static_cast<size_t>(oy) * ow + ox) * g.out_channels + o] = out;
      }
    }
  }
  *oh_out = oh;
  *ow_out = ow;
  return y;
}

struct Runner {
  const CpuDetector::Plan& plan;
  CpuDetector::Workspace& ws;
  ThreadPool& pool;

  uint8_t* Data(int tensor) const {
    return ws.slots[plan.tensors[tensor].slot].data();
  }
  const Kernels& K(const Step& s) const {
    return s.simd ? *plan.kernels : ScalarKernels();
  }
  // Splits [0, n) into about `parts` chunks and runs fn(begin, end) on
  // them in parallel (each output is computed the same way whatever the
  // split, so results do not depend on the thread count).
  template <class Fn>
  void Split(int n, int parts, Fn fn) const {
    if (n <= 0) return;
    const int chunk = std::max(1, (n + parts - 1) / parts);
    const int chunks = (n + chunk - 1) / chunk;
    pool.ParallelFor(
        chunks, [&](int i) { fn(i * chunk, std::min(n, (i + 1) * chunk)); });
  }
  int Parts(int64_t work) const {
    // At least a few hundred thousand operations per chunk, and up to 4
    // chunks per thread for balance.
    const int64_t by_work = std::max<int64_t>(1, work / 200000);
    return static_cast<int>(std::min<int64_t>(by_work, 4 * pool.size()));
  }

  void Gemm(const Step& s) const;
  void Depthwise(const Step& s) const;
  void SqueezeExcite(int index, const Step& s) const;
  void Add(const Step& s) const;
  void Resize(const Step& s) const;
  void Concat(const Step& s) const;
};

void Runner::Gemm(const Step& s) const {
  const Tensor& x = plan.tensors[s.in0];
  const Tensor& y = plan.tensors[s.out];
  const int rows = y.h * y.w;
  const int n = y.c;
  const size_t elem = y.int16 ? 2 : 1;
  const int k4 = RoundUp(s.kdim, 4);
  // Rows per chunk: whole tiles (48 = lcm of the tile heights), at most
  // ~64 KiB of activations, at least 4 chunks per thread when there are
  // enough rows.
  int chunk = std::clamp(65536 / k4, 48, 2048) / 48 * 48;
  const int balanced =
      RoundUp((rows + 4 * pool.size() - 1) / (4 * pool.size()), 48);
  chunk = std::max(48, std::min(chunk, balanced));
  const int chunks = (rows + chunk - 1) / chunk;
  const Kernels& kernels = K(s);
  const bool avx2 = s.simd && plan.isa == Isa::kAvx2;
  const uint8_t* xdata = Data(s.in0);
  uint8_t* ydata = Data(s.out);
  pool.ParallelFor(chunks, [&](int ci) {
    const int m0 = ci * chunk, m1 = std::min(rows, m0 + chunk);
    ThreadScratch& scratch = Scratch();
    GemmArgs a{};
    a.k = s.kdim;
    a.x_offset = x.offset;
    a.rows = m1 - m0;
    a.n = n;
    a.w_packed = s.packed.data();
    a.w_raw = s.w_raw.data();
    a.bias_folded = s.bias_folded.data();
    a.bias_raw = s.bias_raw.data();
    a.epi = s.epi.Table();
    a.y = ydata + static_cast<size_t>(m0) * n * elem;
    a.y_stride = n * elem;
    if (s.im2col) {
      // Rows of k * k * in codes (ky, kx, channel), padding taps at code 0.
      const size_t need =
          static_cast<size_t>(a.rows + kMaxTileRows) * k4 + kSlackExtra;
      if (scratch.im2col.size() < need) scratch.im2col.resize(need);
      uint8_t* col = scratch.im2col.data();
      const uint8_t pad = static_cast<uint8_t>(x.offset);
      const int cin = x.c;
      const int span = s.k * cin;  // One kernel row of codes.
      for (int m = m0; m < m1; ++m) {
        const int oy = m / y.w, ox = m % y.w;
        uint8_t* row = col + static_cast<size_t>(m - m0) * k4;
        const int ix0 = ox * s.stride - s.pad_x;
        const bool columns_inside = ix0 >= 0 && ix0 + s.k <= x.w;
        for (int ky = 0; ky < s.k; ++ky) {
          const int iy = oy * s.stride - s.pad_y + ky;
          uint8_t* dst = row + ky * span;
          if (iy < 0 || iy >= x.h) {
            std::memset(dst, pad, span);
            continue;
          }
          const uint8_t* src =
              xdata + (static_cast<size_t>(iy) * x.w + ix0) * cin;
          if (columns_inside) {
            // The k pixels are contiguous: whole 8-byte words (the slack
            // of the input and of this scratch takes the overrun; later
            // rows and the padding below overwrite it).
            for (int i = 0; i < span; i += 8) std::memcpy(dst + i, src + i, 8);
            continue;
          }
          for (int kx = 0; kx < s.k; ++kx) {
            const int ix = ix0 + kx;
            if (ix < 0 || ix >= x.w) {
              std::memset(dst + kx * cin, pad, cin);
            } else {
              std::memcpy(dst + kx * cin, src + kx * cin, cin);
            }
          }
        }
        std::memset(row + s.kdim, 0, k4 - s.kdim);
      }
      a.x = col;
      a.x_stride = k4;
    } else {
      a.x = xdata + static_cast<size_t>(m0) * x.c;
      a.x_stride = x.c;
    }
    if (avx2) {
      const size_t need = static_cast<size_t>(a.rows + 16) * (s.kdim + 32);
      if (scratch.x16.size() < need) scratch.x16.resize(need);
      a.scratch16 = scratch.x16.data();
    }
    kernels.gemm(a);
  });
}

void Runner::Depthwise(const Step& s) const {
  const Tensor& x = plan.tensors[s.in0];
  const Tensor& y = plan.tensors[s.out];
  const Kernels& kernels = K(s);
  const int64_t work = int64_t{y.h} * y.w * y.c * s.k * s.k;
  Split(y.h, Parts(work), [&](int r0, int r1) {
    DepthwiseArgs a{};
    a.x = Data(s.in0);
    a.h = x.h;
    a.w = x.w;
    a.c = x.c;
    a.x_offset = x.offset;
    a.k = s.k;
    a.stride = s.stride;
    a.pad_y = s.pad_y;
    a.pad_x = s.pad_x;
    a.oh = y.h;
    a.ow = y.w;
    a.w_packed = s.packed.data();
    a.w_raw = s.w_raw.data();
    a.bias_folded = s.bias_folded.data();
    a.bias_packed = s.bias_packed.data();
    a.bias_raw = s.bias_raw.data();
    a.pad = s.pad.data();
    std::vector<const uint8_t*>& taps = Scratch().taps;
    const size_t need =
        kMaxDepthwiseTaps + static_cast<size_t>(y.w + 4) * (s.k * s.k + 8);
    if (taps.size() < need) taps.resize(need);
    a.taps = taps.data();
    a.epi = s.epi.Table();
    a.y = Data(s.out);
    a.oy_begin = r0;
    a.oy_end = r1;
    kernels.depthwise(a);
  });
}

void Runner::SqueezeExcite(int index, const Step& s) const {
  const Tensor& x = plan.tensors[s.in0];
  const int c = x.c;
  const int pixels = x.h * x.w;
  const uint8_t* xdata = Data(s.in0);
  // Channel sums, in chunks of pixels added in order.
  const int parts = Parts(int64_t{pixels} * c);
  const int chunk = (pixels + parts - 1) / parts;
  const int chunks = (pixels + chunk - 1) / chunk;
  std::vector<std::vector<int64_t>> partial(chunks, std::vector<int64_t>(c, 0));
  pool.ParallelFor(chunks, [&](int ci) {
    const int p0 = ci * chunk, p1 = std::min(pixels, p0 + chunk);
    std::vector<uint32_t> sums(c, 0);  // < 2^24 * 255 < 2^32 (checked).
    for (int p = p0; p < p1; ++p) {
      const uint8_t* px = xdata + static_cast<size_t>(p) * c;
      for (int i = 0; i < c; ++i) sums[i] += px[i];
    }
    for (int i = 0; i < c; ++i) {
      partial[ci][i] = int64_t{sums[i]} - int64_t{x.offset} * (p1 - p0);
    }
  });
  std::vector<int64_t> mean(c);
  const int64_t count = pixels;
  for (int i = 0; i < c; ++i) {
    int64_t sum = 0;
    for (const std::vector<int64_t>& part : partial) sum += part[i];
    const int a = std::max(s.se_fm[i] - s.se_fx[i], 0),
              b = std::max(s.se_fx[i] - s.se_fm[i], 0);
    mean[i] = std::clamp(RoundDivide(sum * (int64_t{1} << a), count << b),
                         s.se_mean_range.lo, s.se_mean_range.hi);
  }
  int h = 1, w = 1;
  const std::vector<int64_t> r = RunSmallConv(s.se_reduce, mean, 1, 1, &h, &w);
  const std::vector<int64_t> z = RunSmallConv(s.se_expand, r, h, w, &h, &w);
  // The gates, as this run's multipliers.
  std::vector<int64_t>& rows = ws.se_rows[index];
  std::vector<int32_t>& fast = ws.se_fast[index];
  rows = s.epi.rows;
  fast = s.epi.fast;
  const std::vector<uint16_t>& sigmoid = mc::SigmoidTable();
  for (int i = 0; i < c; ++i) {
    const int64_t zc = z[i];
    const int p = s.se_p[i];
    SetMult(s.epi, rows.data(), fast.empty() ? nullptr : fast.data(), i,
            s.se_sigmoid ? sigmoid[std::clamp<int64_t>(zc, -2048, 2047) + 2048]
                         : std::clamp<int64_t>(zc + (int64_t{3} << p), 0,
                                               int64_t{6} << p) *
                               kSixthCode);
  }
  const EpilogueTable table =
      s.epi.Table(rows.data(), fast.empty() ? nullptr : fast.data());
  const Kernels& kernels = K(s);
  uint8_t* ydata = Data(s.out);
  Split(pixels, Parts(int64_t{pixels} * c * 4), [&](int p0, int p1) {
    MapArgs a{};
    a.x = xdata + static_cast<size_t>(p0) * c;
    a.x_stride = c;
    a.x_offset = x.offset;
    a.c = c;
    a.c0 = 0;
    a.pixels = p1 - p0;
    a.epi = table;
    a.y = ydata + static_cast<size_t>(p0) * c;
    a.y_stride = c;
    kernels.map(a);
  });
}

void Runner::Add(const Step& s) const {
  const Tensor& ta = plan.tensors[s.in0];
  const Tensor& tb = plan.tensors[s.in1];
  const int c = ta.c;
  const int pixels = ta.h * ta.w;
  const Kernels& kernels = K(s);
  Split(pixels, Parts(int64_t{pixels} * c * 4), [&](int p0, int p1) {
    AddArgs a{};
    const size_t at = static_cast<size_t>(p0) * c;
    a.a = Data(s.in0) + at;
    a.b = Data(s.in1) + at;
    a.a_offset = ta.offset;
    a.b_offset = tb.offset;
    a.sa = s.sa.data();
    a.sb = s.sb.data();
    a.c = c;
    a.pixels = p1 - p0;
    a.epi = s.epi.Table();
    a.y = Data(s.out) + at;
    kernels.add(a);
  });
}

void Runner::Resize(const Step& s) const {
  const Tensor& x = plan.tensors[s.in0];
  const Tensor& y = plan.tensors[s.out];
  const Kernels& kernels = K(s);
  Split(y.h, Parts(int64_t{y.h} * y.w * y.c * 6), [&](int r0, int r1) {
    ResizeArgs a{};
    a.x = Data(s.in0);
    a.h = x.h;
    a.w = x.w;
    a.c = x.c;
    a.x_offset = x.offset;
    a.epi = s.epi.Table();
    a.y = Data(s.out);
    a.oy_begin = r0;
    a.oy_end = r1;
    kernels.resize(a);
  });
}

void Runner::Concat(const Step& s) const {
  const Tensor& y = plan.tensors[s.out];
  const int pixels = y.h * y.w;
  const Kernels& kernels = K(s);
  Split(pixels, Parts(int64_t{pixels} * y.c * 4), [&](int p0, int p1) {
    int c0 = 0;
    for (int in : {s.in0, s.in1}) {
      const Tensor& x = plan.tensors[in];
      const EpilogueData& epi = in == s.in0 && c0 == 0 ? s.epi : s.epi_b;
      MapArgs a{};
      a.x = Data(in) + static_cast<size_t>(p0) * x.c;
      a.x_stride = x.c;
      a.x_offset = x.offset;
      a.c = x.c;
      a.c0 = c0;
      a.pixels = p1 - p0;
      a.epi = epi.Table();
      a.y = Data(s.out) + static_cast<size_t>(p0) * y.c;
      a.y_stride = y.c;
      kernels.map(a);
      c0 += x.c;
    }
  });
}

// The value of element i of a tensor.
struct View {
  const uint8_t* data;
  bool int16;
  int offset;
  int32_t operator[](size_t i) const {
    if (int16) {
      int16_t v;
      std::memcpy(&v, data + 2 * i, sizeof(v));
      return v;
    }
    return static_cast<int32_t>(data[i]) - offset;
  }
};

// Sigmoid, peak test, top 100 and boxes (NUMERICS.md, "Heads and decode").
// The top 100 come from one scan in index order that keeps the best 100
// peaks so far: a later element enters only with a larger value than the
// worst kept (equal values rank by the smaller index, which came first),
// so only such elements need the 3 x 3 peak test.
void Decode(const View& logits, const View& wh, ThreadPool& pool,
            mc::IntDetectorOutput& out) {
  constexpr int kRow = kGrid * kClasses;
  const std::vector<uint16_t>& sigmoid = mc::SigmoidTable();
  out.keypoints.resize(static_cast<size_t>(kRow) * kGrid);
  uint16_t* k = out.keypoints.data();
  pool.ParallelFor(kGrid, [&](int y) {
    uint16_t* ky = k + static_cast<size_t>(y) * kRow;
    const size_t base = static_cast<size_t>(y) * kRow;
    if (logits.int16) {
      const uint8_t* row = logits.data + 2 * base;
      for (int i = 0; i < kRow; ++i) {
        int16_t z;
        std::memcpy(&z, row + 2 * i, sizeof(z));
        ky[i] = sigmoid[std::clamp<int>(z, -2048, 2047) + 2048];
      }
    } else {
      for (int i = 0; i < kRow; ++i) {
        ky[i] = sigmoid[std::clamp(logits[base + i], -2048, 2047) + 2048];
      }
    }
  });
  auto is_peak = [&](int y, int x, int c) {
    const uint16_t v = k[(y * kGrid + x) * kClasses + c];
    for (int ny = std::max(0, y - 1); ny <= std::min(kGrid - 1, y + 1); ++ny) {
      for (int nx = std::max(0, x - 1); nx <= std::min(kGrid - 1, x + 1);
           ++nx) {
        if (k[(ny * kGrid + nx) * kClasses + c] > v) return false;
      }
    }
    return true;
  };
  using Entry = std::pair<int32_t, int32_t>;  // (value, flat index).
  // Larger first, equal values by the smaller index.
  const auto before = [](const Entry& a, const Entry& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  std::vector<Entry> heap;  // The best so far; front: the worst of them.
  heap.reserve(kTopK + 1);
  for (int y = 0; y < kGrid; ++y) {
    for (int x = 0; x < kGrid; ++x) {
      const int base = (y * kGrid + x) * kClasses;
      const uint16_t* kp = k + base;
      if (heap.size() == static_cast<size_t>(kTopK)) {
        uint16_t most = 0;
        for (int c = 0; c < kClasses; ++c) most = std::max(most, kp[c]);
        if (most <= heap.front().first) continue;
      }
      for (int c = 0; c < kClasses; ++c) {
        const int32_t v = kp[c];
        const bool full = heap.size() == static_cast<size_t>(kTopK);
        if (full && v <= heap.front().first) continue;
        if (!is_peak(y, x, c)) continue;
        heap.push_back({v, base + c});
        std::push_heap(heap.begin(), heap.end(), before);
        if (heap.size() > static_cast<size_t>(kTopK)) {
          std::pop_heap(heap.begin(), heap.end(), before);
          heap.pop_back();
        }
      }
    }
  }
  std::sort(heap.begin(), heap.end(), before);
  std::vector<Entry> top = heap;
  if (top.size() < static_cast<size_t>(kTopK)) {
    // Every peak is kept (sigmoid codes are at least 11, so peaks score
    // above the non-peaks' 0): the non-peaks with the smallest indices
    // fill the rest.
    std::vector<int32_t> peaks;
    for (const Entry& e : heap) peaks.push_back(e.second);
    std::sort(peaks.begin(), peaks.end());
    for (int32_t i = 0; top.size() < static_cast<size_t>(kTopK); ++i) {
      if (!std::binary_search(peaks.begin(), peaks.end(), i)) {
        top.push_back({0, i});
      }
    }
  }
  out.detections.clear();
  out.detections.reserve(kTopK * mc::kDetectionFields);
  for (const auto& [score, i] : top) {
    const int c = i % kClasses, x = (i / kClasses) % kGrid,
              y = i / (kClasses * kGrid);
    const int32_t cx = x << kWhShift, cy = y << kWhShift;
    const size_t at = (static_cast<size_t>(y) * kGrid + x) * 4;
    const int32_t row[mc::kDetectionFields] = {cx - wh[at + 0], cy - wh[at + 1],
                                               cx + wh[at + 2], cy + wh[at + 3],
                                               score,           c};
    out.detections.insert(out.detections.end(), row,
                          row + mc::kDetectionFields);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<CpuDetector>> CpuDetector::Create(
    const mc::QuantizedDetector& model, const Options& options) {
  Isa isa = Isa::kScalar;
  if (options.isa.empty()) {
    absl::StatusOr<Isa> selected = SelectIsa();
    if (!selected.ok()) return selected.status();
    isa = *selected;
  } else {
    bool known = false;
    for (Isa candidate : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni}) {
      if (options.isa == IsaName(candidate)) {
        isa = candidate;
        known = true;
      }
    }
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "isa \"", options.isa,
          "\" is not one of scalar, avx2, avx512vnni (or empty: automatic)"));
    }
    if (!IsaSupported(isa)) {
      return absl::InvalidArgumentError(
          absl::StrCat("isa ", options.isa, ": this CPU does not support it"));
    }
  }
#if !defined(FXSERVE_CPU_DETECTOR_X86_KERNELS)
  if (isa != Isa::kScalar) {
    return absl::InvalidArgumentError(
        absl::StrCat("isa ", IsaName(isa), ": this build has no x86 kernels"));
  }
#endif
  std::unique_ptr<CpuDetector> d(new CpuDetector());
  d->isa_ = isa;
  d->plan_ = std::make_unique<Plan>();
  d->plan_->isa = isa;
  d->plan_->kernels = &KernelsFor(isa);
  Planner planner(model, isa, *d->plan_);
  if (absl::Status st = planner.Build(); !st.ok()) return st;
  int threads = options.threads;
  if (threads <= 0) {
    threads =
        std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  }
  d->pool_ = std::make_unique<ThreadPool>(threads);
  if (isa != Isa::kScalar) {
    for (const Step& s : d->plan_->steps) {
      if (!s.simd) d->scalar_layers_.push_back(s.name);
    }
  }
  return d;
}

CpuDetector::~CpuDetector() = default;

std::unique_ptr<CpuDetector::Workspace> CpuDetector::TakeWorkspace() const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!free_workspaces_.empty()) {
      std::unique_ptr<Workspace> ws = std::move(free_workspaces_.back());
      free_workspaces_.pop_back();
      return ws;
    }
  }
  auto ws = std::make_unique<Workspace>();
  for (size_t bytes : plan_->slot_bytes) ws->slots.emplace_back(bytes);
  ws->se_rows.resize(plan_->steps.size());
  ws->se_fast.resize(plan_->steps.size());
  return ws;
}

void CpuDetector::ReturnWorkspace(std::unique_ptr<Workspace> ws) const {
  std::lock_guard<std::mutex> lock(mu_);
  free_workspaces_.push_back(std::move(ws));
}

absl::StatusOr<mc::IntDetectorOutput> CpuDetector::Run(
    absl::Span<const uint8_t> input, std::vector<StepTime>* profile) const {
  if (input.size() != static_cast<size_t>(kInputSize) * kInputSize * 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the detector takes 512 x 512 x 3 bytes, got ", input.size()));
  }
  std::unique_ptr<Workspace> ws = TakeWorkspace();
  const Plan& plan = *plan_;
  Runner runner{plan, *ws, *pool_};
  using Clock = std::chrono::steady_clock;
  Clock::time_point start = Clock::now();
  auto lap = [&](const std::string& name, const char* kind) {
    if (profile == nullptr) return;
    const Clock::time_point now = Clock::now();
    profile->push_back(
        {name, kind, std::chrono::duration<double>(now - start).count()});
    start = now;
  };
  if (profile != nullptr) profile->clear();
  std::memcpy(runner.Data(plan.input), input.data(), input.size());
  for (int i = 0; i < static_cast<int>(plan.steps.size()); ++i) {
    const Step& s = plan.steps[i];
    switch (s.kind) {
      case StepKind::kGemm:
        runner.Gemm(s);
        break;
      case StepKind::kDepthwise:
        runner.Depthwise(s);
        break;
      case StepKind::kSqueezeExcite:
        runner.SqueezeExcite(i, s);
        break;
      case StepKind::kAdd:
        runner.Add(s);
        break;
      case StepKind::kResize:
        runner.Resize(s);
        break;
      case StepKind::kConcat:
        runner.Concat(s);
        break;
    }
    static constexpr const char* kKinds[] = {"gemm", "depthwise", "se",
                                             "add",  "resize",    "concat"};
    lap(s.name, s.kind == StepKind::kGemm ? (s.im2col ? "conv" : "pointwise")
                                          : kKinds[static_cast<int>(s.kind)]);
  }
  auto view = [&](int t) {
    return View{runner.Data(t), plan.tensors[t].int16, plan.tensors[t].offset};
  };
  mc::IntDetectorOutput out;
  Decode(view(plan.keypoints), view(plan.wh), *pool_, out);
  lap("decode", "decode");
  ReturnWorkspace(std::move(ws));
  return out;
}

}  // namespace fxserve::backends::cpu
