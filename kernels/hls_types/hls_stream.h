// fxserve's emulation of AMD Vitis HLS streams: hls::stream<T, DEPTH>, a
// FIFO between dataflow processes. Kernels include it as <hls_stream.h>.
//
// Emulation runs dataflow processes one after another on one thread, so a
// stream holds any number of elements (as in Vitis C simulation); DEPTH is
// the hardware FIFO depth, which full() and write_nb() honour. Reading an
// empty stream would hang hardware: here it throws fxhls::EmulationError
// naming the stream. A stream is not safe to share between threads.
#ifndef FXSERVE_KERNELS_HLS_TYPES_HLS_STREAM_H_
#define FXSERVE_KERNELS_HLS_TYPES_HLS_STREAM_H_

#include <cstddef>
#include <deque>
#include <string>
#include <utility>

#include "fxhls/error.h"

namespace hls {

// T: element type. DEPTH: FIFO depth in hardware; 0 leaves it to the
// STREAM pragma (unbounded in emulation).
template <typename T, int DEPTH = 0>
class stream {
  static_assert(DEPTH >= 0, "stream depth must not be negative");

 public:
  stream() : name_("hls::stream") {}
  explicit stream(const char* name) : name_(name ? name : "hls::stream") {}
  // Hardware FIFOs cannot be copied.
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;

  bool empty() const { return items_.empty(); }
  bool full() const {
    return DEPTH > 0 && items_.size() >= static_cast<size_t>(DEPTH);
  }
  size_t size() const { return items_.size(); }
  int capacity() const { return DEPTH; }
  const std::string& name() const { return name_; }

  // Blocking read: an error if nothing was written.
  T read() {
    if (items_.empty()) {
      fxhls::Fail("read from empty stream '" + name_ +
                  "' (in hardware this would block forever)");
    }
    T value = std::move(items_.front());
    items_.pop_front();
    return value;
  }
  void read(T& value) { value = read(); }
  void operator>>(T& value) { value = read(); }

  // Blocking write: never blocks in emulation (see the file comment).
  void write(const T& value) { items_.push_back(value); }
  void operator<<(const T& value) { write(value); }

  // Non-blocking read: false, leaving `value` alone, when empty.
  bool read_nb(T& value) {
    if (items_.empty()) return false;
    value = read();
    return true;
  }
  // Non-blocking write: false when the hardware FIFO would be full.
  bool write_nb(const T& value) {
    if (full()) return false;
    write(value);
    return true;
  }

 private:
  std::string name_;
  std::deque<T> items_;
};

}  // namespace hls

#endif  // FXSERVE_KERNELS_HLS_TYPES_HLS_STREAM_H_
