#include "model/quantized_gpt2.h"

namespace fxserve::model {

const char* ScaleKindName(ScaleKind kind) {
  return kind == ScaleKind::kPow2 ? "pow2" : "fixed";
}

}  // namespace fxserve::model
