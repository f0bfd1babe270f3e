// Exhaustive conversion tests: every code of narrow source types into
// narrow targets of many shapes (negative I, I > W, unsigned, W == 1) under
// every quantization x overflow mode, against the GMP reference.
#include <gtest/gtest.h>

#include <ap_fixed.h>
#include <ap_int.h>

#include "tests/hls_types/reference.h"
#include "tests/hls_types/type_lists.h"

namespace fxhls_test {
namespace {

// Converts every code of Source into every mode of the shape <W, I, S>.
template <class Source, int W, int I, bool S>
void CheckShape() {
  ForEachMode<W, I, S>([]<class Target>() {
    ForEachCode<Source>([](long code) {
      const Source source = FromRaw<Source>(code);
      const Target target = source;
      ASSERT_EQ(RawOf(target), RefConvertFrom<Target>(source))
          << "converting raw code " << code << " of a " << Source::width
          << "-bit source into " << SpecOf<Target>().Name();
    });
  });
}

template <class Source>
void CheckAllShapes() {
  CheckShape<Source, 4, 2, true>();
  CheckShape<Source, 4, 2, false>();
  CheckShape<Source, 6, 6, true>();
  CheckShape<Source, 3, 0, true>();
  CheckShape<Source, 3, -1, false>();
  CheckShape<Source, 5, -3, true>();
  CheckShape<Source, 4, 7, true>();
  CheckShape<Source, 2, 1, true>();
  CheckShape<Source, 1, 1, true>();
  CheckShape<Source, 1, 0, false>();
  CheckShape<Source, 8, 4, true>();
  CheckShape<Source, 7, 3, false>();
  CheckShape<Source, 8, 10, true>();
}

TEST(ApFixedConvert, FromSignedFixed) { CheckAllShapes<ap_fixed<8, 3>>(); }
TEST(ApFixedConvert, FromUnsignedFixed) { CheckAllShapes<ap_ufixed<8, 3>>(); }
TEST(ApFixedConvert, FromNegativeIntegerBits) {
  CheckAllShapes<ap_fixed<7, -2>>();
}
TEST(ApFixedConvert, FromMoreIntegerBitsThanWidth) {
  CheckAllShapes<ap_fixed<6, 9>>();
}
TEST(ApFixedConvert, FromApInt) { CheckAllShapes<ap_int<8>>(); }
TEST(ApFixedConvert, FromApUint) { CheckAllShapes<ap_uint<8>>(); }

}  // namespace
}  // namespace fxhls_test
