// The C-simulation builds for the shipped tiny model's shape.
#include "backends/csim/gpt2_csim_impl.h"

namespace fxserve::backends::csim {

absl::StatusOr<std::unique_ptr<Gpt2CSim>> CreateTiny(
    const model::QuantizedGpt2& q) {
  return CreateForShape<kgpt2::Gpt2TinyShape>(q);
}

}  // namespace fxserve::backends::csim
