// Exhaustive conversion tests: every code of narrow source types into
// narrow targets of many shapes (negative I, I > W, unsigned, W == 1) under
// every quantization x overflow mode, against the GMP reference.
#include <gtest/gtest.h>

#include <ap_fixed.h>
#include <ap_int.h>

#include "tests/hls_types/convert_check.h"

namespace fxhls_test {
namespace {

TEST(ApFixedConvert, FromSignedFixed) {
  CheckAllTargetShapes<ap_fixed<8, 3>>();
}
TEST(ApFixedConvert, FromUnsignedFixed) {
  CheckAllTargetShapes<ap_ufixed<8, 3>>();
}
TEST(ApFixedConvert, FromNegativeIntegerBits) {
  CheckAllTargetShapes<ap_fixed<7, -2>>();
}

}  // namespace
}  // namespace fxhls_test
