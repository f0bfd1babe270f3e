#include "backends/fpga/gpt2_step_plan.h"

#include <algorithm>

#include "kernels/top/gpt2_device_layout.h"

namespace fxserve::backends::fpga {
namespace {

namespace device = kernels::gpt2::device;
namespace step = kernels::gpt2::device::step;
constexpr int kChunkTokens = 16;  // kernels::gpt2::kPrefillTokens.

// A launch being filled.
class LaunchBuilder {
 public:
  explicit LaunchBuilder(const StepGeometry& g) : geometry_(g) { Reset(); }

  bool Fits(int n, int rows) const {
    return entries_ < device::kMaxStepEntries &&
           tokens_ + n <= device::kMaxStepTokens &&
           static_cast<int>(launch_.rows.size()) + rows <=
               device::kMaxLogitRows;
  }
  bool empty() const { return entries_ == 0; }

  // One chunk: tokens [first, first + n) of input `input`, `rows` logits
  // rows (0, 1 = its last token, or n = all of them).
  void Add(const SequenceInput& in, int input, int start_pos, int first, int n,
           int rows, const std::vector<int>& table) {
    int32_t* w = launch_.descriptor.data();
    int32_t* e = w + step::kEntriesStart + entries_ * step::kEntryWords;
    e[step::kStartPos] = start_pos;
    e[step::kCount] = n;
    e[step::kTokenOffset] = tokens_;
    e[step::kLogitsRow] = rows > 0 ? static_cast<int>(launch_.rows.size()) : -1;
    e[step::kAllLogits] = rows > 1 ? 1 : 0;
    const int row0 = in.all_logits ? first : 0;
    for (int r = 0; r < rows; ++r) launch_.rows.push_back({input, row0 + r});
    for (int t = 0; t < n; ++t) {
      w[step::kTokensStart + tokens_ + t] = in.tokens[first + t];
    }
    const int blocks = std::min<int>(table.size(), geometry_.table_stride);
    std::copy_n(table.begin(), blocks,
                w + step::kTablesStart + entries_ * geometry_.table_stride);
    ++entries_;
    tokens_ += n;
  }

  Gpt2Launch Finish() {
    int32_t* w = launch_.descriptor.data();
    w[step::kEntries] = entries_;
    w[step::kTokens] = tokens_;
    w[step::kLogitRows] = static_cast<int>(launch_.rows.size());
    Gpt2Launch done = std::move(launch_);
    Reset();
    return done;
  }

 private:
  void Reset() {
    launch_ = Gpt2Launch();
    launch_.descriptor.assign(step::BufferWords(geometry_.table_stride), 0);
    int32_t* w = launch_.descriptor.data();
    w[step::kMagic] = device::kStepMagic;
    w[step::kTableStride] = geometry_.table_stride;
    w[step::kBlockTokens] = geometry_.block_tokens;
    w[step::kKvBlocks] = geometry_.kv_blocks;
    entries_ = tokens_ = 0;
  }

  StepGeometry geometry_;
  Gpt2Launch launch_;
  int entries_ = 0, tokens_ = 0;
};

}  // namespace

std::vector<Gpt2Launch> PlanGpt2Launches(
    absl::Span<const SequenceInput> inputs, absl::Span<const int> lengths,
    absl::Span<const std::vector<int>* const> tables,
    const StepGeometry& geometry) {
  std::vector<Gpt2Launch> launches;
  LaunchBuilder builder(geometry);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const SequenceInput& in = inputs[i];
    const int total = static_cast<int>(in.tokens.size());
    for (int first = 0; first < total; first += kChunkTokens) {
      const int n = std::min(kChunkTokens, total - first);
      const bool last = first + n == total;
      const int rows = in.all_logits ? n : (last ? 1 : 0);
      if (!builder.Fits(n, rows)) launches.push_back(builder.Finish());
      builder.Add(in, static_cast<int>(i), lengths[i] + first, first, n, rows,
                  *tables[i]);
    }
  }
  if (!builder.empty()) launches.push_back(builder.Finish());
  return launches;
}

}  // namespace fxserve::backends::fpga
