#include "model/centernet/int_reference.h"

#include <algorithm>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "kernels/common/constexpr_math.h"

namespace fxserve::model::centernet {
namespace {

constexpr int kInputSize = 512;
constexpr int64_t kSixthCode = 2730;  // float16(1/6) = 2730 * 2^-14.
constexpr int kSixthFrac = 14;
constexpr int kLogitFrac = 8;     // Q(16, 8) logits.
constexpr int kSigmoidFrac = 15;  // UQ(16, 15) sigmoid outputs.
constexpr int kWhShift = 6;       // 4 x in Q(., 4): x << 6.
constexpr int kTopK = 100;

// An NHWC feature map (batch 1) of integer codes.
struct Map {
  int h = 0, w = 0, c = 0;
  std::vector<int64_t> v;

  Map() = default;
  Map(int h_, int w_, int c_)
      : h(h_), w(w_), c(c_), v(static_cast<size_t>(h_) * w_ * c_, 0) {}
  int64_t& at(int y, int x, int ch) {
    return v[(static_cast<size_t>(y) * w + x) * c + ch];
  }
  int64_t at(int y, int x, int ch) const {
    return v[(static_cast<size_t>(y) * w + x) * c + ch];
  }
};

// The codes a tensor can hold.
struct Range {
  int64_t lo, hi;
};
constexpr Range kInt8{-128, 127}, kUint8{0, 255}, kInt16{-32768, 32767};

int64_t Saturate(int64_t v, Range r) { return std::clamp(v, r.lo, r.hi); }

// requant_W(c, s): rne(c / 2^s) for s > 0, c * 2^-s for s <= 0, saturated.
int64_t Requant(int64_t c, int s, Range bits) {
  if (s <= 0) {
    const int64_t limit = int64_t{1} << (62 + s);  // |c| * 2^-s < 2^62.
    if (c >= limit) return Saturate(INT64_MAX, bits);
    if (c <= -limit) return Saturate(INT64_MIN, bits);
    return Saturate(c * (int64_t{1} << -s), bits);
  }
  if (s >= 63) return 0;
  int64_t q = c >> s;  // Floor.
  const int64_t rest = c - (q << s);
  const int64_t half = int64_t{1} << (s - 1);
  if (rest > half || (rest == half && (q & 1))) ++q;
  return Saturate(q, bits);
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

struct ConvArgs {
  const ConvLayer& geometry;
  const QuantizedLinear& w;
  bool fixed;
  std::vector<int> out_frac;  // F(y) per channel (hard-swish's output).
  std::vector<int> pre_frac;  // P per channel (hard-swish's input).
  Range out_range;            // int8 or uint8.
};

// The exact sum of one output before its epilogue (times m_o if fixed).
int64_t ConvSum(const Map& x, const ConvArgs& a, int oy, int ox, int o,
                int pad_y, int pad_x) {
  const ConvLayer& g = a.geometry;
  const int k = g.kernel;
  const int per_channel = k * k * (g.depthwise ? 1 : g.in_channels);
  const int8_t* w = &a.w.weight[static_cast<size_t>(o) * per_channel];
  int64_t acc = 0;
  for (int ky = 0; ky < k; ++ky) {
    const int iy = oy * g.stride - pad_y + ky;
    if (iy < 0 || iy >= x.h) continue;
    for (int kx = 0; kx < k; ++kx) {
      const int ix = ox * g.stride - pad_x + kx;
      if (ix < 0 || ix >= x.w) continue;
      if (g.depthwise) {
        acc += x.at(iy, ix, o) * w[ky * k + kx];
        continue;
      }
      const int8_t* wt = w + (ky * k + kx) * g.in_channels;
      for (int ci = 0; ci < g.in_channels; ++ci)
        acc += x.at(iy, ix, ci) * wt[ci];
    }
  }
  const int64_t sum = acc + a.w.bias[o];
  return a.fixed ? sum * a.w.mult[o] : sum;
}

int64_t ApplyEpilogue(int64_t v, const ConvArgs& a, int o) {
  const int s = a.w.shift[o];
  switch (a.geometry.epilogue) {
    case Epilogue::kNone:
      return Requant(v, s, a.out_range);
    case Epilogue::kRelu:
      return std::max<int64_t>(0, Requant(v, s, a.out_range));
    case Epilogue::kLogits:
      return Requant(v, s, kInt16);
    case Epilogue::kHardSwish: {
      const int p = a.pre_frac[o];
      const int64_t h = Requant(v, s, kInt16);
      const int64_t r =
          std::clamp<int64_t>(h + (int64_t{3} << p), 0, int64_t{6} << p);
      return Requant(h * r * kSixthCode, 2 * p + kSixthFrac - a.out_frac[o],
                     a.out_range);
    }
  }
  return 0;
}

// TF SAME: out = ceil(in / s); pad_before = floor(total / 2).
int PadBefore(int in, int k, int s) {
  const int out = (in + s - 1) / s;
  return std::max(0, (out - 1) * s + k - in) / 2;
}

absl::StatusOr<Map> Conv(const Map& x, const ConvArgs& a) {
  const ConvLayer& g = a.geometry;
  if (x.c != g.in_channels) {
    return absl::InvalidArgumentError(absl::StrCat(
        g.node, ": ", x.c, " input channels, the conv takes ", g.in_channels));
  }
  Map y((x.h + g.stride - 1) / g.stride, (x.w + g.stride - 1) / g.stride,
        g.out_channels);
  const int pad_y = PadBefore(x.h, g.kernel, g.stride);
  const int pad_x = PadBefore(x.w, g.kernel, g.stride);
  for (int oy = 0; oy < y.h; ++oy) {
    for (int ox = 0; ox < y.w; ++ox) {
      for (int o = 0; o < y.c; ++o) {
        y.at(oy, ox, o) =
            ApplyEpilogue(ConvSum(x, a, oy, ox, o, pad_y, pad_x), a, o);
      }
    }
  }
  return y;
}

int64_t Sigmoid(int64_t z) {
  return SigmoidTable()[std::clamp<int64_t>(z, -2048, 2047) + 2048];
}

class Interpreter {
 public:
  explicit Interpreter(const QuantizedDetector& q) : q_(q) {}

  absl::StatusOr<Map> Run(const QuantizedDetectorLayer& ql,
                          const std::vector<const Map*>& in);

 private:
  ConvArgs Args(const ConvLayer& g, const QuantizedLinear& w,
                const std::string& out) const {
    return {g,
            w,
            q_.scales == ScaleKind::kFixed,
            F(out, g.out_channels),
            F(g.node, g.out_channels),
            RangeOf(out)};
  }
  Range RangeOf(const std::string& name) const {
    return q_.unsigned_tensors.count(name) ? kUint8 : kInt8;
  }
  std::vector<int> F(const std::string& name, int channels) const {
    return q_.Frac(name, channels);
  }
  absl::StatusOr<Map> SqueezeExcite(const QuantizedDetectorLayer& ql,
                                    const Map& x);
  Map Resize2x(const Map& x, const std::vector<int>& fx,
               const std::vector<int>& fy, Range range) const;

  const QuantizedDetector& q_;
};

absl::StatusOr<Map> Interpreter::SqueezeExcite(const QuantizedDetectorLayer& ql,
                                               const Map& x) {
  const Layer& l = ql.layer;
  const std::vector<int> fx = F(l.inputs[0], x.c),
                         fm = F(l.output + "#mean", x.c), fy = F(l.output, x.c);
  const int64_t count = int64_t{x.h} * x.w;
  Map mean(1, 1, x.c);
  for (int ch = 0; ch < x.c; ++ch) {
    const int a = std::max(fm[ch] - fx[ch], 0),
              b = std::max(fx[ch] - fm[ch], 0);
    int64_t sum = 0;
    for (int y = 0; y < x.h; ++y) {
      for (int xx = 0; xx < x.w; ++xx) sum += x.at(y, xx, ch);
    }
    mean.at(0, 0, ch) =
        Saturate(RoundDivide(sum * (int64_t{1} << a), count << b),
                 RangeOf(l.output + "#mean"));
  }
  absl::StatusOr<Map> r = Conv(mean, Args(l.conv, ql.conv, l.conv.node));
  if (!r.ok()) return r.status();
  // z in 16 bits: Q(16, P) for hard-sigmoid, Q(16, 8) logits for sigmoid.
  ConvLayer expand = l.expand;
  expand.epilogue = Epilogue::kLogits;
  absl::StatusOr<Map> z = Conv(*r, Args(expand, ql.expand, l.expand.node));
  if (!z.ok()) return z.status();
  if (z->c != x.c) {
    return absl::InvalidArgumentError(
        absl::StrCat(l.output, ": the gate has ", z->c, " channels, x ", x.c));
  }
  const std::vector<int> p = F(l.expand.node, x.c);
  const bool sigmoid = l.gate == Gate::kSigmoid;
  std::vector<int64_t> gate(x.c);
  std::vector<int> shift(x.c);
  for (int ch = 0; ch < x.c; ++ch) {
    const int64_t zc = z->at(0, 0, ch);
    const int pc = p[ch];
    gate[ch] = sigmoid ? Sigmoid(zc)
                       : std::clamp<int64_t>(zc + (int64_t{3} << pc), 0,
                                             int64_t{6} << pc) *
                             kSixthCode;
    shift[ch] = fx[ch] + (sigmoid ? kSigmoidFrac : pc + kSixthFrac) - fy[ch];
  }
  const Range out_range = RangeOf(l.output);
  Map y(x.h, x.w, x.c);
  for (size_t i = 0; i < x.v.size(); ++i) {
    y.v[i] = Requant(x.v[i] * gate[i % x.c], shift[i % x.c], out_range);
  }
  return y;
}

Map Interpreter::Resize2x(const Map& x, const std::vector<int>& fx,
                          const std::vector<int>& fy, Range range) const {
  Map y(2 * x.h, 2 * x.w, x.c);
  for (int oy = 0; oy < y.h; ++oy) {
    const int y0 = oy >> 1, y1 = std::min(y0 + 1, x.h - 1), dy = oy & 1;
    for (int ox = 0; ox < y.w; ++ox) {
      const int x0 = ox >> 1, x1 = std::min(x0 + 1, x.w - 1), dx = ox & 1;
      for (int ch = 0; ch < x.c; ++ch) {
        const int64_t acc =
            (2 - dy) * ((2 - dx) * x.at(y0, x0, ch) + dx * x.at(y0, x1, ch)) +
            dy * ((2 - dx) * x.at(y1, x0, ch) + dx * x.at(y1, x1, ch));
        y.at(oy, ox, ch) = Requant(acc, fx[ch] + 2 - fy[ch], range);
      }
    }
  }
  return y;
}

absl::StatusOr<Map> Interpreter::Run(const QuantizedDetectorLayer& ql,
                                     const std::vector<const Map*>& in) {
  const Layer& l = ql.layer;
  switch (l.kind) {
    case LayerKind::kConv:
      return Conv(*in[0], Args(l.conv, ql.conv, l.output));
    case LayerKind::kSqueezeExcite:
      return SqueezeExcite(ql, *in[0]);
    case LayerKind::kResize2x:
      return Resize2x(*in[0], F(l.inputs[0], in[0]->c), F(l.output, in[0]->c),
                      RangeOf(l.output));
    case LayerKind::kAdd: {
      const Map &a = *in[0], &b = *in[1];
      if (a.h != b.h || a.w != b.w || a.c != b.c) {
        return absl::InvalidArgumentError(l.output + ": adds unequal shapes");
      }
      const std::vector<int> fa = F(l.inputs[0], a.c), fb = F(l.inputs[1], a.c),
                             fy = F(l.output, a.c);
      Map y(a.h, a.w, a.c);
      for (size_t i = 0; i < a.v.size(); ++i) {
        const size_t ch = i % a.c;
        const int m = std::max(fa[ch], fb[ch]);
        y.v[i] = Requant(a.v[i] * (int64_t{1} << (m - fa[ch])) +
                             b.v[i] * (int64_t{1} << (m - fb[ch])),
                         m - fy[ch], RangeOf(l.output));
      }
      return y;
    }
    case LayerKind::kConcat: {
      const Map &a = *in[0], &b = *in[1];
      if (a.h != b.h || a.w != b.w) {
        return absl::InvalidArgumentError(l.output + ": concats unequal maps");
      }
      const std::vector<int> fa = F(l.inputs[0], a.c), fb = F(l.inputs[1], b.c),
                             fy = F(l.output, a.c + b.c);
      Map y(a.h, a.w, a.c + b.c);
      for (int yy = 0; yy < a.h; ++yy) {
        for (int xx = 0; xx < a.w; ++xx) {
          for (int ch = 0; ch < y.c; ++ch) {
            const bool first = ch < a.c;
            const int64_t v = first ? a.at(yy, xx, ch) : b.at(yy, xx, ch - a.c);
            const int f = first ? fa[ch] : fb[ch - a.c];
            y.at(yy, xx, ch) =
                std::max<int64_t>(0, Requant(v, f - fy[ch], RangeOf(l.output)));
          }
        }
      }
      return y;
    }
  }
  return absl::InternalError("unknown layer kind");
}

// Peak test, top 100 and boxes (the contract's "Heads and decode").
IntDetectorOutput Decode(const Map& keypoints, const Map& wh) {
  IntDetectorOutput out;
  out.keypoints.assign(keypoints.v.begin(), keypoints.v.end());
  std::vector<std::pair<int64_t, int>> peaks;  // (value, flat index).
  peaks.reserve(keypoints.v.size());
  for (int y = 0; y < kGrid; ++y) {
    for (int x = 0; x < kGrid; ++x) {
      for (int c = 0; c < kClasses; ++c) {
        const int64_t k = keypoints.at(y, x, c);
        bool peak = true;
        for (int dy = -1; dy <= 1 && peak; ++dy) {
          for (int dx = -1; dx <= 1 && peak; ++dx) {
            const int ny = y + dy, nx = x + dx;
            if (ny < 0 || ny >= kGrid || nx < 0 || nx >= kGrid) continue;
            peak = keypoints.at(ny, nx, c) <= k;
          }
        }
        peaks.push_back({peak ? k : 0, (y * kGrid + x) * kClasses + c});
      }
    }
  }
  std::partial_sort(peaks.begin(), peaks.begin() + kTopK, peaks.end(),
                    [](const auto& a, const auto& b) {
                      return a.first != b.first ? a.first > b.first
                                                : a.second < b.second;
                    });
  for (int r = 0; r < kTopK; ++r) {
    const int i = peaks[r].second;
    const int c = i % kClasses, x = (i / kClasses) % kGrid,
              y = i / (kClasses * kGrid);
    const int32_t cx = x << kWhShift, cy = y << kWhShift;
    const int32_t row[kDetectionFields] = {
        static_cast<int32_t>(cx - wh.at(y, x, 0)),
        static_cast<int32_t>(cy - wh.at(y, x, 1)),
        static_cast<int32_t>(cx + wh.at(y, x, 2)),
        static_cast<int32_t>(cy + wh.at(y, x, 3)),
        static_cast<int32_t>(peaks[r].first),
        c};
    out.detections.insert(out.detections.end(), row, row + kDetectionFields);
  }
  return out;
}

}  // namespace

const std::vector<uint16_t>& SigmoidTable() {
  static const std::vector<uint16_t> table = [] {
    std::vector<uint16_t> t(4096);
    for (int i = 0; i < 4096; ++i) {
      const double v = (i - 2048) / 256.0;
      t[i] = static_cast<uint16_t>(kernels::cmath::RoundToInt(
          32768.0 / (1.0 + kernels::cmath::Exp(-v))));
    }
    return t;
  }();
  return table;
}

std::vector<uint8_t> ResizeToInput(const image::RgbImage& image) {
  std::vector<uint8_t> out(static_cast<size_t>(kInputSize) * kInputSize * 3);
  for (int dy = 0; dy < kInputSize; ++dy) {
    const int64_t ty = int64_t{dy} * image.height;
    const int y0 = static_cast<int>(ty >> 9), fy = static_cast<int>(ty & 511);
    const int y1 = std::min(y0 + 1, image.height - 1);
    for (int dx = 0; dx < kInputSize; ++dx) {
      const int64_t tx = int64_t{dx} * image.width;
      const int x0 = static_cast<int>(tx >> 9), fx = static_cast<int>(tx & 511);
      const int x1 = std::min(x0 + 1, image.width - 1);
      for (int c = 0; c < 3; ++c) {
        auto p = [&](int y, int x) -> int64_t {
          return image
              .pixels[(static_cast<size_t>(y) * image.width + x) * 3 + c];
        };
        const int64_t sum =
            (512 - fy) * ((512 - fx) * p(y0, x0) + fx * p(y0, x1)) +
            fy * ((512 - fx) * p(y1, x0) + fx * p(y1, x1));
        out[(static_cast<size_t>(dy) * kInputSize + dx) * 3 + c] =
            static_cast<uint8_t>((sum + (1 << 17)) >> 18);
      }
    }
  }
  return out;
}

absl::StatusOr<IntDetectorOutput> RunIntReference(
    const QuantizedDetector& model, absl::Span<const uint8_t> input,
    const IntTensorObserver& observer) {
  if (input.size() != static_cast<size_t>(kInputSize) * kInputSize * 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the detector takes 512 x 512 x 3 bytes, got ", input.size()));
  }
  std::map<std::string, Map> values;
  Map& x = values[model.input] = Map(kInputSize, kInputSize, 3);
  std::copy(input.begin(), input.end(), x.v.begin());
  Interpreter interpreter(model);
  for (const QuantizedDetectorLayer& ql : model.layers) {
    std::vector<const Map*> in;
    for (const std::string& name : ql.layer.inputs) {
      auto it = values.find(name);
      if (it == values.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat(ql.layer.output, " reads ", name, ", never made"));
      }
      in.push_back(&it->second);
    }
    absl::StatusOr<Map> y = interpreter.Run(ql, in);
    if (!y.ok()) return y.status();
    if (observer) {
      const Epilogue e = ql.layer.conv.epilogue;
      const bool logits =
          ql.layer.kind == LayerKind::kConv && e == Epilogue::kLogits;
      observer(ql.layer.output, y->v,
               logits ? std::vector<int>(y->c, kLogitFrac)
                      : model.Frac(ql.layer.output, y->c));
    }
    values[ql.layer.output] = *std::move(y);
  }
  Map& logits = values[model.keypoint_logits];
  const Map& wh = values[model.wh_logits];
  if (logits.h != kGrid || logits.w != kGrid || logits.c != kClasses ||
      wh.h != kGrid || wh.w != kGrid || wh.c != 4) {
    return absl::InvalidArgumentError("the heads are not 128 x 128 x (80, 4)");
  }
  for (int64_t& v : logits.v) v = Sigmoid(v);
  return Decode(logits, wh);
}

std::vector<float> DetectionRowsToFloat(absl::Span<const int32_t> rows) {
  std::vector<float> out(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const int field = static_cast<int>(i % kDetectionFields);
    out[i] = field < 4    ? rows[i] / 16.0f
             : field == 4 ? rows[i] / 32768.0f
                          : static_cast<float>(rows[i]);
  }
  return out;
}

}  // namespace fxserve::model::centernet
