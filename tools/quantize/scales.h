// What the quantizers share (kernels/top/NUMERICS.md and
// kernels/detect/NUMERICS.md, "The quantizer"): a uniform sample of each
// calibrated tensor, the binary point with the least squared error, and
// per-output-channel weight scales (powers of two, or 16-bit multipliers
// with clipping) with the registers that follow from them.
#ifndef FXSERVE_TOOLS_QUANTIZE_SCALES_H_
#define FXSERVE_TOOLS_QUANTIZE_SCALES_H_

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/quantized_gpt2.h"

namespace fxserve::quantize {

// The multiplier of fixed scales has this many fraction bits.
inline constexpr int kMultFrac = 15;

// Round half to even (the default floating-point rounding mode).
inline double Rne(double x) { return std::nearbyint(x); }

inline long long Clamp(double x, long long lo, long long hi) {
  if (x < static_cast<double>(lo)) return lo;
  if (x > static_cast<double>(hi)) return hi;
  return static_cast<long long>(x);
}

// A uniform sample of a stream of values (deterministic).
class Reservoir {
 public:
  static constexpr size_t kSize = 1 << 17;

  void Add(float value) {
    ++seen_;
    if (values_.size() < kSize) {
      values_.push_back(value);
      return;
    }
    const uint64_t slot = rng_() % seen_;
    if (slot < kSize) values_[slot] = value;
  }
  const std::vector<float>& values() const { return values_; }

 private:
  std::vector<float> values_;
  uint64_t seen_ = 0;
  std::mt19937_64 rng_{0x5eed};
};

// The fraction bits F in [min_frac, max_frac] minimising sum (x - q_F(x))^2,
// q_F the `bits`-bit signed grid 2^-F * [-2^(bits-1), 2^(bits-1) - 1]
// (QFX's calibrated binary point). Ties go to the smaller F.
int BestFraction(const std::vector<float>& values, int bits, int min_frac,
                 int max_frac);

// Quantizes a layer x W + b into a QuantizedLinear ([out][in] codes): W is
// [in][out] (`out_major` false: conv filters flattened as HWIO) or
// [out][in]; column o and b[o] are first multiplied by col_scale[o] (empty:
// 1). Input codes have in_frac fraction bits; output channel o's codes
// out_frac[o]. InvalidArgument, naming `name`, if a shift leaves -64..63.
absl::StatusOr<model::QuantizedLinear> QuantizeLinear(
    const std::string& name, const std::vector<float>& weight,
    const std::vector<float>* bias, int in, int out, bool out_major, int bits,
    model::ScaleKind kind, int in_frac, const std::vector<int>& out_frac,
    const std::vector<double>& col_scale = {});
// The same with an input binary point per output channel (a depthwise
// conv's output o reads input channel o).
absl::StatusOr<model::QuantizedLinear> QuantizeLinear(
    const std::string& name, const std::vector<float>& weight,
    const std::vector<float>* bias, int in, int out, bool out_major, int bits,
    model::ScaleKind kind, const std::vector<int>& in_frac,
    const std::vector<int>& out_frac,
    const std::vector<double>& col_scale = {});

// Streams values of one tensor channel and keeps, for every candidate F in
// [min_frac, max_frac], the squared error of `bits`-bit codes at F; Best()
// is BestFraction over everything seen, without keeping the values (0 for
// a channel that was always zero).
class FractionSearch {
 public:
  // `is_unsigned`: codes 0 .. 2^bits - 1 instead of two's complement.
  FractionSearch(int bits, int min_frac, int max_frac, bool is_unsigned = false)
      : bits_(bits),
        min_frac_(min_frac),
        unsigned_(is_unsigned),
        error_(max_frac - min_frac + 1, 0),
        clipped_(error_.size(), 0) {}
  void Add(float value);
  int Best() const;
  // Best(), or coarser until at most `max_clipped` of the values seen fall
  // outside the grid (large activations carry the detections: clipping them
  // costs more than the squared error says).
  int BestClipping(double max_clipped) const;
  bool empty() const { return count_ == 0; }
  // The squared error of each candidate F, from min_frac up, and the values
  // that fell outside its grid.
  const std::vector<double>& errors() const { return error_; }
  const std::vector<uint64_t>& clipped() const { return clipped_; }
  uint64_t count() const { return count_; }
  int min_frac() const { return min_frac_; }

 private:
  int bits_;
  int min_frac_;
  bool unsigned_;
  std::vector<double> error_;
  std::vector<uint64_t> clipped_;  // Values outside the grid, per F.
  uint64_t count_ = 0;
  float max_abs_ = 0;
};

// The one F of several channels (the same candidates) with the least total
// error.
int BestSharedFraction(const std::vector<FractionSearch>& channels,
                       double max_clipped = 1.0);

}  // namespace fxserve::quantize

#endif  // FXSERVE_TOOLS_QUANTIZE_SCALES_H_
