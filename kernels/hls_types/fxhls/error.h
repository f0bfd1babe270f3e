// How the emulated HLS types report misuse (division by zero, reading an
// empty stream, a bad literal). In hardware these are hangs or undefined
// values; in emulation they must be loud, so they throw.
#ifndef FXSERVE_KERNELS_HLS_TYPES_FXHLS_ERROR_H_
#define FXSERVE_KERNELS_HLS_TYPES_FXHLS_ERROR_H_

#include <stdexcept>
#include <string>

namespace fxhls {

// Thrown for any emulation-time error in the HLS type layer.
class EmulationError : public std::logic_error {
 public:
  explicit EmulationError(const std::string& what) : std::logic_error(what) {}
};

[[noreturn]] inline void Fail(const std::string& what) {
  throw EmulationError("fxhls: " + what);
}

}  // namespace fxhls

#endif  // FXSERVE_KERNELS_HLS_TYPES_FXHLS_ERROR_H_
