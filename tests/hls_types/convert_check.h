// Checks conversions into every mode of a fixed-point shape against the
// GMP reference. The per-type template is tiny (it only converts) and the
// loop is ordinary code, because thousands of type pairs instantiate it.
#ifndef FXSERVE_TESTS_HLS_TYPES_CONVERT_CHECK_H_
#define FXSERVE_TESTS_HLS_TYPES_CONVERT_CHECK_H_

#include <gtest/gtest.h>

#include <vector>

#include "tests/hls_types/reference.h"
#include "tests/hls_types/type_lists.h"

namespace fxhls_test {

// Raw value of Target(x) where x is the Source holding raw `raw`.
template <class Source, class Target>
long ConvertRaw(long raw) {
  const Target target = FromRaw<Source>(raw);
  return RawOf(target).get_si();
}

struct SourceInfo {
  int width;
  int frac;
  bool is_signed;
};

template <class Source>
SourceInfo InfoOf() {
  return SourceInfo{Source::width, kFrac<Source>, kSigned<Source>};
}

// Every value a type of at most 16 bits holds.
template <class T>
std::vector<long> AllRaws() {
  static_assert(T::width <= 16, "exhaustive only for narrow types");
  std::vector<long> raws;
  for (long code = 0; code < (1L << T::width); ++code) {
    raws.push_back(Wrap(code, T::width, kSigned<T>).get_si());
  }
  return raws;
}

inline void CheckConversions(long (*convert)(long),
                             const std::vector<long>& raws,
                             const SourceInfo& source,
                             const FixedSpec& target) {
  for (long raw : raws) {
    const mpz_class expected =
        RefConvert(raw, source.frac, source.width, source.is_signed, target);
    ASSERT_EQ(convert(raw), expected.get_si())
        << "converting raw " << raw << " (" << source.width << " bits, "
        << source.frac << " fractional) into " << target.Name();
  }
}

// Converts each raw value of Source into every mode of the shape <W, I, S>.
template <class Source, int W, int I, bool S>
void CheckShape(const std::vector<long>& raws) {
  ForEachMode<W, I, S>([&]<class Target>() {
    CheckConversions(&ConvertRaw<Source, Target>, raws, InfoOf<Source>(),
                     SpecOf<Target>());
  });
}

// Targets of many shapes: I < 0, I > W, W == 1, unsigned.
template <class Source>
void CheckAllTargetShapes() {
  const std::vector<long> raws = AllRaws<Source>();
  CheckShape<Source, 4, 2, true>(raws);
  CheckShape<Source, 4, 2, false>(raws);
  CheckShape<Source, 6, 6, true>(raws);
  CheckShape<Source, 3, 0, true>(raws);
  CheckShape<Source, 3, -1, false>(raws);
  CheckShape<Source, 5, -3, true>(raws);
  CheckShape<Source, 4, 7, true>(raws);
  CheckShape<Source, 2, 1, true>(raws);
  CheckShape<Source, 1, 1, true>(raws);
  CheckShape<Source, 1, 0, false>(raws);
  CheckShape<Source, 8, 4, true>(raws);
  CheckShape<Source, 7, 3, false>(raws);
  CheckShape<Source, 8, 10, true>(raws);
  // Integer parts equal to the sources' (3, -2, 9, 8): where AP_SAT_SYM's
  // most-negative rule switches on.
  CheckShape<Source, 5, 3, true>(raws);
  CheckShape<Source, 3, -2, true>(raws);
  CheckShape<Source, 7, 9, true>(raws);
  CheckShape<Source, 6, 8, true>(raws);
}

}  // namespace fxhls_test

#endif  // FXSERVE_TESTS_HLS_TYPES_CONVERT_CHECK_H_
