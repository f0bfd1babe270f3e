// The C-simulation builds for GPT-2 124M's shape.
#include "backends/csim/gpt2_csim_impl.h"

namespace fxserve::backends::csim {

absl::StatusOr<std::unique_ptr<Gpt2CSim>> CreateSmall(
    const model::QuantizedGpt2& q) {
  return CreateForShape<kgpt2::Gpt2SmallShape>(q);
}

}  // namespace fxserve::backends::csim
