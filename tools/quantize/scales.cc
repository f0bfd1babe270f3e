#include "tools/quantize/scales.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace fxserve::quantize {
namespace {

using model::QuantizedLinear;
using model::ScaleKind;

// Fixed-scale candidates: alpha * max|w| / qmax for alpha = 1, 1 - 1/40...
constexpr int kClipSteps = 21;

// One output channel's scale: a code's value is `scale`.
struct ChannelScale {
  double scale = 1;
  int exponent = 0;   // scale = 2^-exponent (pow2) or mult 2^-(15+exponent).
  uint16_t mult = 0;  // Fixed scales only.
};

double ChannelError(const std::vector<double>& w, double scale, int bits) {
  const long long qmax = (1LL << (bits - 1)) - 1;
  double error = 0;
  for (double x : w) {
    const double q =
        static_cast<double>(Clamp(Rne(x / scale), -qmax - 1, qmax));
    const double d = x - q * scale;
    error += d * d;
  }
  return error;
}

// A fixed-point scale near `target`: mult * 2^-(15 + e), mult 16 bits.
ChannelScale FixedScale(double target) {
  ChannelScale s;
  s.exponent = -static_cast<int>(std::floor(std::log2(target)));
  double mult = Rne(std::ldexp(target, kMultFrac + s.exponent));
  if (mult >= 65536) {
    mult = 32768;
    --s.exponent;
  }
  s.mult = static_cast<uint16_t>(mult);
  s.scale = std::ldexp(mult, -(kMultFrac + s.exponent));
  return s;
}

ChannelScale ChooseScale(const std::vector<double>& w, int bits, ScaleKind kind,
                         double min_scale) {
  const double qmax = static_cast<double>((1 << (bits - 1)) - 1);
  double max_abs = 0;
  for (double x : w) max_abs = std::max(max_abs, std::abs(x));
  // No finer than the bias allows (its code must fit 31 bits), nor than
  // 2^-16 per weight: a dead channel (all zero or ~1e-8) must not need a
  // shift beyond the registers' range.
  max_abs = std::max({max_abs, min_scale * qmax, std::ldexp(1.0, -16)});
  std::vector<ChannelScale> candidates;
  if (kind == ScaleKind::kPow2) {
    // Largest e with max|w| 2^e <= qmax, and e + 1 (clips the extremes).
    const int e = static_cast<int>(std::floor(std::log2(qmax / max_abs)));
    for (int c : {e, e + 1}) {
      candidates.push_back({std::ldexp(1.0, -c), c, 0});
    }
  } else {
    for (int step = 0; step < kClipSteps; ++step) {
      const double alpha = 1.0 - 0.5 * step / (kClipSteps - 1);
      candidates.push_back(FixedScale(alpha * max_abs / qmax));
    }
  }
  ChannelScale best = candidates[0];
  double best_error = std::numeric_limits<double>::infinity();
  for (const ChannelScale& c : candidates) {
    const double error = ChannelError(w, c.scale, bits);
    if (error < best_error) {
      best_error = error;
      best = c;
    }
  }
  return best;
}

}  // namespace

int BestFraction(const std::vector<float>& values, int bits, int min_frac,
                 int max_frac) {
  const long long qmax = (1LL << (bits - 1)) - 1;
  int best = min_frac;
  double best_error = std::numeric_limits<double>::infinity();
  for (int f = min_frac; f <= max_frac; ++f) {
    const double scale = std::ldexp(1.0, f);
    double error = 0;
    for (float x : values) {
      const double q =
          static_cast<double>(Clamp(Rne(x * scale), -qmax - 1, qmax));
      const double d = x - q / scale;
      error += d * d;
    }
    if (error < best_error) {
      best_error = error;
      best = f;
    }
  }
  return best;
}

void FractionSearch::Add(float value) {
  ++count_;
  max_abs_ = std::max(max_abs_, std::abs(value));
  const double qmax = static_cast<double>(unsigned_ ? (1LL << bits_) - 1
                                                    : (1LL << (bits_ - 1)) - 1);
  const double qmin = unsigned_ ? 0.0 : -qmax - 1;
  double scale = std::ldexp(1.0, min_frac_);
  for (size_t f = 0; f < error_.size(); ++f) {
    const double code = Rne(value * scale);
    const double q = std::clamp(code, qmin, qmax);
    clipped_[f] += q != code;
    const double d = value - q / scale;
    error_[f] += d * d;
    scale *= 2;
  }
}

int FractionSearch::Best() const {
  if (max_abs_ == 0) return 0;  // A dead channel: every F is exact.
  return min_frac_ +
         static_cast<int>(std::min_element(error_.begin(), error_.end()) -
                          error_.begin());
}

int FractionSearch::BestClipping(double max_clipped) const {
  int f = Best() - min_frac_;
  while (f > 0 && clipped_[f] > max_clipped * count_) --f;
  return min_frac_ + f;
}

int BestSharedFraction(const std::vector<FractionSearch>& channels,
                       double max_clipped) {
  std::vector<double> total(channels.at(0).errors().size(), 0);
  std::vector<double> clipped(total.size(), 0);
  double count = 0;
  for (const FractionSearch& c : channels) {
    for (size_t f = 0; f < total.size(); ++f) {
      total[f] += c.errors()[f];
      clipped[f] += static_cast<double>(c.clipped()[f]);
    }
    count += static_cast<double>(c.count());
  }
  int f = static_cast<int>(std::min_element(total.begin(), total.end()) -
                           total.begin());
  while (f > 0 && clipped[f] > max_clipped * count) --f;
  return channels[0].min_frac() + f;
}

absl::StatusOr<QuantizedLinear> QuantizeLinear(
    const std::string& name, const std::vector<float>& weight,
    const std::vector<float>* bias, int in, int out, bool out_major, int bits,
    ScaleKind kind, const std::vector<int>& in_fracs,
    const std::vector<int>& out_frac, const std::vector<double>& col_scale) {
  QuantizedLinear q;
  q.in = in;
  q.out = out;
  q.bits = bits;
  q.weight.resize(static_cast<size_t>(out) * in);
  q.bias.resize(out);
  q.shift.resize(out);
  if (kind == ScaleKind::kFixed) q.mult.resize(out);
  const long long qmax = (1LL << (bits - 1)) - 1;
  std::vector<double> column(in);
  for (int o = 0; o < out; ++o) {
    for (int i = 0; i < in; ++i) {
      const size_t index = out_major ? static_cast<size_t>(o) * in + i
                                     : static_cast<size_t>(i) * out + o;
      column[i] = weight[index] * (col_scale.empty() ? 1.0 : col_scale[o]);
    }
    const double bias_abs =
        bias != nullptr
            ? std::abs((*bias)[o] * (col_scale.empty() ? 1.0 : col_scale[o]))
            : 0.0;
    const ChannelScale s =
        ChooseScale(column, bits, kind, std::ldexp(bias_abs, in_fracs[o] - 30));
    for (int i = 0; i < in; ++i) {
      q.weight[static_cast<size_t>(o) * in + i] =
          static_cast<int8_t>(Clamp(Rne(column[i] / s.scale), -qmax - 1, qmax));
    }
    // The accumulator's LSB is s.scale * 2^-in_frac.
    const int in_frac = in_fracs[o];
    const double b = bias != nullptr
                         ? (*bias)[o] * (col_scale.empty() ? 1.0 : col_scale[o])
                         : 0.0;
    q.bias[o] = static_cast<int32_t>(
        Clamp(Rne(std::ldexp(b / s.scale, in_frac)), INT32_MIN, INT32_MAX));
    const int shift = kind == ScaleKind::kPow2
                          ? in_frac + s.exponent - out_frac[o]
                          : in_frac + kMultFrac + s.exponent - out_frac[o];
    if (shift < -64 || shift > 63) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": output channel ", o, " needs a shift of ", shift,
          " (outside -64..63); its weights' scale is ", s.scale));
    }
    q.shift[o] = static_cast<int8_t>(shift);
    if (kind == ScaleKind::kFixed) q.mult[o] = s.mult;
  }
  return q;
}

absl::StatusOr<QuantizedLinear> QuantizeLinear(
    const std::string& name, const std::vector<float>& weight,
    const std::vector<float>* bias, int in, int out, bool out_major, int bits,
    ScaleKind kind, int in_frac, const std::vector<int>& out_frac,
    const std::vector<double>& col_scale) {
  return QuantizeLinear(name, weight, bias, in, out, out_major, bits, kind,
                        std::vector<int>(out, in_frac), out_frac, col_scale);
}

}  // namespace fxserve::quantize
