// Writable views of one bit (x[i]) and of a bit range (x.range(hi, lo)) of
// an ap_int_base. Do not include this file directly: include <ap_int.h>.
#ifndef FXSERVE_KERNELS_HLS_TYPES_FXHLS_AP_INT_REFS_H_
#define FXSERVE_KERNELS_HLS_TYPES_FXHLS_AP_INT_REFS_H_

#include "fxhls/ap_int_base.h"

namespace fxhls {

// A bit of an ap_int_base that reads as bool and can be assigned.
template <int W, bool S>
class BitRef {
 public:
  BitRef(ap_int_base<W, S>* owner, int index) : owner_(owner), index_(index) {
    (void)owner_->get_bit(index_);  // Reports a bad index right away.
  }
  BitRef(const BitRef&) = default;

  operator bool() const { return owner_->get_bit(index_); }  // NOLINT
  bool to_bool() const { return owner_->get_bit(index_); }
  bool operator~() const { return !to_bool(); }

  BitRef& operator=(bool value) {
    owner_->set_bit(index_, value);
    return *this;
  }
  BitRef& operator=(const BitRef& other) { return *this = other.to_bool(); }
  template <class T, EnableIfCInt<T> = 0>
  BitRef& operator=(T value) {
    return *this = (value & 1) != 0;
  }
  template <int W2, bool S2>
  BitRef& operator=(const ap_int_base<W2, S2>& value) {
    return *this = value.get_bit(0);
  }

 private:
  ap_int_base<W, S>* owner_;
  int index_;
};

// Bits hi..lo of an ap_int_base. It is an ap_uint<W> holding their value
// (so every ap_uint operation applies), and assignments write back.
template <int W, bool S>
class RangeRef : public ap_uint<W> {
 public:
  RangeRef(ap_int_base<W, S>* owner, int hi, int lo)
      : ap_uint<W>(owner->get_range(hi, lo)), owner_(owner), hi_(hi), lo_(lo) {}
  RangeRef(const RangeRef&) = default;

  RangeRef& operator=(const RangeRef& other) {
    return Store(static_cast<const ap_uint<W>&>(other));
  }
  template <class T>
  RangeRef& operator=(const T& value) {
    return Store(ap_uint<W>(value));
  }

  template <class T>
  RangeRef& operator+=(const T& v) {
    return Store(Value() + v);
  }
  template <class T>
  RangeRef& operator-=(const T& v) {
    return Store(Value() - v);
  }
  template <class T>
  RangeRef& operator*=(const T& v) {
    return Store(Value() * v);
  }
  template <class T>
  RangeRef& operator&=(const T& v) {
    return Store(Value() & v);
  }
  template <class T>
  RangeRef& operator|=(const T& v) {
    return Store(Value() | v);
  }
  template <class T>
  RangeRef& operator^=(const T& v) {
    return Store(Value() ^ v);
  }
  template <class T>
  RangeRef& operator<<=(const T& v) {
    return Store(Value() << v);
  }
  template <class T>
  RangeRef& operator>>=(const T& v) {
    return Store(Value() >> v);
  }

 private:
  const ap_uint<W>& Value() const { return *this; }
  RangeRef& Store(const ap_uint<W>& value) {
    owner_->set_range(hi_, lo_, value);
    ap_uint<W>::set_raw_bits(owner_->get_range(hi_, lo_).raw_bits());
    return *this;
  }

  ap_int_base<W, S>* owner_;
  int hi_;
  int lo_;
};

}  // namespace fxhls

#endif  // FXSERVE_KERNELS_HLS_TYPES_FXHLS_AP_INT_REFS_H_
