// Exhaustive conversion tests, integer-like sources: every code of ap_int,
// ap_uint and an ap_fixed with I > W into narrow targets of many shapes
// under every quantization x overflow mode, against the GMP reference.
#include <gtest/gtest.h>

#include <ap_fixed.h>
#include <ap_int.h>

#include "tests/hls_types/convert_check.h"

namespace fxhls_test {
namespace {

TEST(ApFixedConvert, FromMoreIntegerBitsThanWidth) {
  CheckAllTargetShapes<ap_fixed<6, 9>>();
}
TEST(ApFixedConvert, FromApInt) { CheckAllTargetShapes<ap_int<8>>(); }
TEST(ApFixedConvert, FromApUint) { CheckAllTargetShapes<ap_uint<8>>(); }

}  // namespace
}  // namespace fxhls_test
