// Framed protobuf messages over a stream socket: a 4-byte little-endian
// length, then the serialized message (proto/backend_worker.proto). Used
// by both ends of the backend worker pipe.
#ifndef FXSERVE_BACKENDS_PROCESS_WORKER_CHANNEL_H_
#define FXSERVE_BACKENDS_PROCESS_WORKER_CHANNEL_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "backend_worker.pb.h"
#include "google/protobuf/message_lite.h"

namespace fxserve::backends::process {

// Owns nothing: the caller closes `fd`.
class WorkerChannel {
 public:
  explicit WorkerChannel(int fd) : fd_(fd) {}

  // Unavailable if the other end is gone.
  absl::Status Send(const google::protobuf::MessageLite& message);
  // Waits up to `timeout` for the whole message: DeadlineExceeded when it
  // does not come, Unavailable when the other end closed, DataLoss for a
  // frame that does not parse.
  absl::Status Receive(google::protobuf::MessageLite& message,
                       absl::Duration timeout);
  // Unframed bytes, for bulk data whose size a message announced: sent
  // from the pieces as they are, received into `data` (the whole `size`).
  absl::Status SendBytes(absl::Span<const absl::Span<const char>> pieces);
  absl::Status ReceiveBytes(char* data, size_t size, absl::Duration timeout);

 private:
  absl::Status ReadFully(char* data, size_t size, absl::Time deadline);
  absl::Status WriteFully(const char* data, size_t size);

  int fd_;
};

// absl::Status <-> worker::Status, payloads included.
void ToProto(const absl::Status& status, worker::Status& proto);
absl::Status FromProto(const worker::Status& proto);

}  // namespace fxserve::backends::process

#endif  // FXSERVE_BACKENDS_PROCESS_WORKER_CHANNEL_H_
