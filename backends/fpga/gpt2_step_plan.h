// Turns one engine step (backend.h's SequenceInputs) into the step
// descriptors of as few launches of the step top as its capacities allow
// (kernels/top/gpt2_device_layout.h: entries, tokens and logit rows per
// launch). Prompts are cut into chunks of at most kPrefillTokens; the
// chunks of one sequence keep their order, within a launch and across
// launches. Pure: no device, no XRT.
#ifndef FXSERVE_BACKENDS_FPGA_GPT2_STEP_PLAN_H_
#define FXSERVE_BACKENDS_FPGA_GPT2_STEP_PLAN_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "backends/backend.h"

namespace fxserve::backends::fpga {

// Where logits row r of a launch goes: input `input`'s output row `row`.
struct LogitsTarget {
  int input = 0;
  int row = 0;
};

struct Gpt2Launch {
  std::vector<int32_t> descriptor;  // device::step::BufferWords(stride) words.
  std::vector<LogitsTarget> rows;   // One per logits row, in row order.
};

struct StepGeometry {
  int block_tokens = 16;
  int kv_blocks = 0;
  int table_stride = 0;  // Block ids per sequence: ceil(context / block).
};

// lengths[i]: tokens input i's sequence has run before the step;
// tables[i]: its block ids, already covering the step's new tokens.
std::vector<Gpt2Launch> PlanGpt2Launches(
    absl::Span<const SequenceInput> inputs, absl::Span<const int> lengths,
    absl::Span<const std::vector<int>* const> tables,
    const StepGeometry& geometry);

}  // namespace fxserve::backends::fpga

#endif  // FXSERVE_BACKENDS_FPGA_GPT2_STEP_PLAN_H_
