#include "backends/process/worker_channel.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace fxserve::backends::process {
namespace {

// A frame bigger than this is a broken pipe, not a message (the largest
// real one, 64 rows of a 50257-token vocabulary, is 13 MB).
constexpr uint32_t kMaxFrameBytes = 1u << 30;

}  // namespace

absl::Status WorkerChannel::Send(const google::protobuf::MessageLite& message) {
  const size_t size = message.ByteSizeLong();
  if (size > kMaxFrameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a worker message of ", size, " bytes is too big"));
  }
  std::string frame(4 + size, '\0');
  for (int i = 0; i < 4; ++i) frame[i] = static_cast<char>(size >> (8 * i));
  message.SerializeWithCachedSizesToArray(
      reinterpret_cast<uint8_t*>(frame.data() + 4));
  return WriteFully(frame.data(), frame.size());
}

absl::Status WorkerChannel::WriteFully(const char* data, size_t size) {
  size_t sent = 0;
  while (sent < size) {
    // MSG_NOSIGNAL: a dead worker is an error to report, not a SIGPIPE.
    const ssize_t n = ::send(fd_, data + sent, size - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::UnavailableError(absl::StrCat(
          "the backend worker pipe is closed: ", std::strerror(errno)));
    }
    sent += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status WorkerChannel::ReadFully(char* data, size_t size,
                                      absl::Time deadline) {
  size_t got = 0;
  while (got < size) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError("the backend worker did not answer");
    }
    pollfd ready{.fd = fd_, .events = POLLIN, .revents = 0};
    const int ms = left == absl::InfiniteDuration()
                       ? -1
                       : static_cast<int>(std::min<int64_t>(
                             absl::ToInt64Milliseconds(left) + 1, 1 << 30));
    const int polled = ::poll(&ready, 1, ms);
    if (polled < 0 && errno == EINTR) continue;
    if (polled == 0) continue;  // The deadline check above reports it.
    const ssize_t n = ::read(fd_, data + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::UnavailableError(
          n == 0 ? "the backend worker closed the pipe (it exited)"
                 : absl::StrCat("reading from the backend worker: ",
                                std::strerror(errno)));
    }
    got += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status WorkerChannel::Receive(google::protobuf::MessageLite& message,
                                    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  unsigned char header[4];
  if (absl::Status s =
          ReadFully(reinterpret_cast<char*>(header), sizeof(header), deadline);
      !s.ok()) {
    return s;
  }
  const uint32_t size = header[0] | header[1] << 8 | header[2] << 16 |
                        static_cast<uint32_t>(header[3]) << 24;
  if (size > kMaxFrameBytes) {
    return absl::DataLossError(
        absl::StrCat("the backend worker sent a frame of ", size, " bytes"));
  }
  std::string body(size, '\0');
  if (absl::Status s = ReadFully(body.data(), size, deadline); !s.ok()) {
    return s;
  }
  if (!message.ParseFromString(body)) {
    return absl::DataLossError("a backend worker message does not parse");
  }
  return absl::OkStatus();
}

absl::Status WorkerChannel::SendBytes(
    absl::Span<const absl::Span<const char>> pieces) {
  for (absl::Span<const char> piece : pieces) {
    if (absl::Status s = WriteFully(piece.data(), piece.size()); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status WorkerChannel::ReceiveBytes(char* data, size_t size,
                                         absl::Duration timeout) {
  return ReadFully(data, size, absl::Now() + timeout);
}

void ToProto(const absl::Status& status, worker::Status& proto) {
  proto.set_code(static_cast<int32_t>(status.code()));
  proto.set_message(std::string(status.message()));
  status.ForEachPayload([&proto](absl::string_view url, const absl::Cord& v) {
    (*proto.mutable_payloads())[std::string(url)] = std::string(v);
  });
}

absl::Status FromProto(const worker::Status& proto) {
  absl::Status status(static_cast<absl::StatusCode>(proto.code()),
                      proto.message());
  for (const auto& [url, value] : proto.payloads()) {
    status.SetPayload(url, absl::Cord(value));
  }
  return status;
}

}  // namespace fxserve::backends::process
