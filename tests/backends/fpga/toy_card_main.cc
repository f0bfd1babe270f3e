// A toy device process for the sw_emu tests: just enough of the protocol
// XRT 2.13's sw_emu shim speaks (Unix socket, proto2 messages) to run one
// kernel, vadd (c[i] = a[i] + b[i] on n int32), whose register map it reads
// from the card manifest in the xclbin's BITSTREAM section. The real
// emulated card is backends/fpga/emulation/card/.
//
// The shim execs this as "genericpciemodel" with $EMULATION_SOCKETID set;
// it serves calls until xclClose(closeall) or the socket closes.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "backends/fpga/emulation/card_manifest.h"

namespace fxserve::backends::fpga {
namespace {

// xcl_macros.h API numbers.
enum Api : uint32_t {
  kClose = 1,
  kLoadBitstream = 3,
  kAllocDeviceBuffer = 4,
  kFreeDeviceBuffer = 5,
  kCopyHostToDevice = 6,
  kCopyDeviceToHost = 7,
  kWriteKernelCtrl = 9,
  kReadKernelCtrl = 11,
};

constexpr uint32_t kApStart = 1, kApDone = 2, kApIdle = 4;

// ---------------------------------------------------------------------------
// proto2 wire format: just varints, fixed64/32 and length-delimited fields.

struct Message {
  std::map<int, uint64_t> ints;
  std::map<int, std::string> bytes;

  uint64_t Int(int field) const {
    auto it = ints.find(field);
    return it == ints.end() ? 0 : it->second;
  }
  std::string_view Bytes(int field) const {
    auto it = bytes.find(field);
    return it == bytes.end() ? std::string_view() : it->second;
  }
};

bool ReadVarint(std::string_view& in, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const uint8_t c = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    v |= uint64_t{c & 0x7fu} << shift;
    if (c < 0x80) return true;
  }
  return false;
}

uint64_t ReadLittleEndian(std::string_view in, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes && i < in.size(); ++i) {
    v |= uint64_t{static_cast<uint8_t>(in[i])} << (8 * i);
  }
  return v;
}

std::optional<Message> Decode(std::string_view in) {
  Message m;
  while (!in.empty()) {
    uint64_t key = 0, v = 0;
    if (!ReadVarint(in, key)) return std::nullopt;
    const int field = static_cast<int>(key >> 3);
    const int wire = static_cast<int>(key & 7);
    const size_t fixed = wire == 1 ? 8 : wire == 5 ? 4 : 0;
    if (wire == 0) {
      if (!ReadVarint(in, v)) return std::nullopt;
      m.ints[field] = v;
    } else if (fixed != 0) {
      if (in.size() < fixed) return std::nullopt;
      m.ints[field] = ReadLittleEndian(in, fixed);
      in.remove_prefix(fixed);
    } else if (wire == 2) {
      if (!ReadVarint(in, v) || v > in.size()) return std::nullopt;
      m.bytes[field] = std::string(in.substr(0, v));
      in.remove_prefix(v);
    } else {
      return std::nullopt;
    }
  }
  return m;
}

void PutVarint(std::string& out, uint64_t v) {
  for (; v >= 0x80; v >>= 7) out += static_cast<char>((v & 0x7f) | 0x80);
  out += static_cast<char>(v);
}

std::string& PutInt(std::string& out, int field, uint64_t v) {
  PutVarint(out, static_cast<uint64_t>(field) << 3);
  PutVarint(out, v);
  return out;
}

std::string& PutBytes(std::string& out, int field, std::string_view b) {
  PutVarint(out, (static_cast<uint64_t>(field) << 3) | 2);
  PutVarint(out, b.size());
  out.append(b);
  return out;
}

std::string Ack() {
  std::string r;
  return PutInt(r, 1, 1);
}

// ---------------------------------------------------------------------------
// The device: memory, CUs and the vadd "kernel".

struct ComputeUnit {
  const KernelManifest* kernel = nullptr;
  std::vector<uint8_t> registers;
  uint32_t control = kApIdle;
};

class ToyCard {
 public:
  // Handles one call; sets `done` after the final close.
  std::string Handle(uint32_t api, const Message& m, bool& done);

 private:
  std::string LoadBitstream(const Message& m);
  std::string WriteControl(const Message& m);
  std::string ReadControl(const Message& m);
  // The allocation holding [address, address + bytes), or nullptr.
  uint8_t* Find(uint64_t address, uint64_t bytes);
  std::pair<uint64_t, ComputeUnit*> CuAt(uint64_t address);
  void RunVadd(ComputeUnit& cu);

  CardManifest manifest_;
  std::map<uint64_t, std::vector<uint8_t>> memory_;  // By base address.
  std::map<uint64_t, ComputeUnit> cus_;              // By base address.
};

std::string ToyCard::Handle(uint32_t api, const Message& m, bool& done) {
  std::string r;
  switch (api) {
    case kClose:
      done = m.Int(3) != 0;
      return Ack();
    case kLoadBitstream:
      return LoadBitstream(m);
    case kAllocDeviceBuffer:
      memory_[m.Int(1)].assign(m.Int(2), 0);
      return Ack();
    case kFreeDeviceBuffer:
      memory_.erase(m.Int(1));
      return Ack();
    case kCopyHostToDevice: {
      const std::string_view src = m.Bytes(4);
      if (uint8_t* dst = Find(m.Int(3), src.size())) {
        std::memcpy(dst, src.data(), src.size());
      }
      return PutInt(r, 1, src.size());
    }
    case kCopyDeviceToHost: {
      const uint64_t size = m.Int(5);
      const uint8_t* src = Find(m.Int(4), size);
      PutInt(r, 1, src ? size : 0);
      return PutBytes(
          r, 2,
          std::string_view(reinterpret_cast<const char*>(src), src ? size : 0));
    }
    case kWriteKernelCtrl:
      return WriteControl(m);
    case kReadKernelCtrl:
      return ReadControl(m);
    default:
      return Ack();
  }
}

std::string ToyCard::LoadBitstream(const Message& m) {
  std::string r;
  std::ifstream file{std::string(m.Bytes(2)), std::ios::binary};
  const std::string json{std::istreambuf_iterator<char>(file), {}};
  absl::StatusOr<CardManifest> manifest = ParseCardManifest(json);
  if (!manifest.ok()) {
    std::fprintf(stderr, "toy card: %s\n",
                 manifest.status().ToString().c_str());
    return PutInt(r, 1, 0);
  }
  manifest_ = *std::move(manifest);
  cus_.clear();
  for (const KernelManifest& k : manifest_.kernels) {
    for (uint64_t base : k.cu_bases) {
      cus_[base] = ComputeUnit{&k, std::vector<uint8_t>(k.register_bytes)};
    }
  }
  return PutInt(r, 1, 1);
}

uint8_t* ToyCard::Find(uint64_t address, uint64_t bytes) {
  auto it = memory_.upper_bound(address);
  if (it == memory_.begin()) return nullptr;
  --it;
  const uint64_t offset = address - it->first;
  if (offset + bytes > it->second.size()) return nullptr;
  return it->second.data() + offset;
}

std::pair<uint64_t, ComputeUnit*> ToyCard::CuAt(uint64_t address) {
  auto it = cus_.upper_bound(address);
  if (it == cus_.begin()) return {0, nullptr};
  --it;
  if (address - it->first >= it->second.registers.size()) return {0, nullptr};
  return {address - it->first, &it->second};
}

std::string ToyCard::WriteControl(const Message& m) {
  auto [offset, cu] = CuAt(m.Int(2));
  const std::string_view data = m.Bytes(4);
  if (cu != nullptr && offset + data.size() <= cu->registers.size()) {
    std::memcpy(cu->registers.data() + offset, data.data(), data.size());
    if (offset == 0 && !data.empty() && (data[0] & kApStart)) RunVadd(*cu);
  }
  return Ack();
}

std::string ToyCard::ReadControl(const Message& m) {
  auto [offset, cu] = CuAt(m.Int(2));
  std::string value(m.Int(3), '\0');
  if (cu != nullptr && offset == 0) {
    std::memcpy(value.data(), &cu->control,
                std::min(value.size(), sizeof(cu->control)));
    cu->control &= ~kApDone;  // ap_done clears on read.
  } else if (cu != nullptr && offset + value.size() <= cu->registers.size()) {
    std::memcpy(value.data(), cu->registers.data() + offset, value.size());
  }
  std::string r;
  PutInt(r, 1, 1);
  return PutBytes(r, 2, value);
}

void ToyCard::RunVadd(ComputeUnit& cu) {
  const std::vector<ArgManifest>& args = cu.kernel->args;
  auto reg = [&cu](const ArgManifest& a) {
    return ReadLittleEndian(
        std::string_view(
            reinterpret_cast<const char*>(cu.registers.data()) + a.offset,
            a.size),
        a.size);
  };
  if (cu.kernel->name == "vadd" && args.size() == 4) {
    const uint64_t n = reg(args[3]);
    const uint8_t* a = Find(reg(args[0]), 4 * n);
    const uint8_t* b = Find(reg(args[1]), 4 * n);
    uint8_t* c = Find(reg(args[2]), 4 * n);
    for (uint64_t i = 0; a && b && c && i < n; ++i) {
      uint32_t x, y;
      std::memcpy(&x, a + 4 * i, 4);
      std::memcpy(&y, b + 4 * i, 4);
      const uint32_t sum = x + y;
      std::memcpy(c + 4 * i, &sum, 4);
    }
    if (!a || !b || !c) std::fprintf(stderr, "toy card: vadd out of bounds\n");
  } else {
    std::fprintf(stderr, "toy card: no kernel %s\n", cu.kernel->name.c_str());
  }
  cu.control = kApDone | kApIdle;
}

// ---------------------------------------------------------------------------
// The socket.

bool ReadExactly(int fd, char* out, size_t n) {
  while (n > 0) {
    const ssize_t got = ::read(fd, out, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    out += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t put = ::write(fd, data.data(), data.size());
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    data.remove_prefix(static_cast<size_t>(put));
  }
  return true;
}

// The shim listens at /tmp/$USER/$EMULATION_SOCKETID; it may not be there
// yet when this process starts.
int Connect() {
  const char* id = std::getenv("EMULATION_SOCKETID");
  const char* user = std::getenv("USER");
  if (id == nullptr || user == nullptr) return -1;
  const std::string path = std::string("/tmp/") + user + "/" + id;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) return -1;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  for (int attempt = 0; attempt < 3000; ++attempt) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    const auto* to = reinterpret_cast<const sockaddr*>(&address);
    if (::connect(fd, to, sizeof(address)) == 0) return fd;
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

int Serve() {
  const int fd = Connect();
  if (fd < 0) {
    std::fprintf(stderr, "toy card: cannot connect to the shim's socket\n");
    return 1;
  }
  ToyCard card;
  bool done = false;
  char header[14];
  // Call: 09 <u64 body length> 15 <u32 api>, body. Reply: 09 <u64>, body.
  while (!done && ReadExactly(fd, header, sizeof(header))) {
    const uint64_t length = ReadLittleEndian({header + 1, 8}, 8);
    const uint32_t api =
        static_cast<uint32_t>(ReadLittleEndian({header + 10, 4}, 4));
    std::string body(length, '\0');
    if (!ReadExactly(fd, body.data(), length)) break;
    std::optional<Message> call = Decode(body);
    if (!call) {
      std::fprintf(stderr, "toy card: bad message for api %u\n", api);
      break;
    }
    const std::string reply = card.Handle(api, *call, done);
    std::string frame(1, '\x09');
    for (int i = 0; i < 8; ++i) {
      frame += static_cast<char>(reply.size() >> (8 * i));
    }
    if (!WriteAll(fd, frame + reply)) break;
  }
  ::close(fd);
  return 0;
}

}  // namespace
}  // namespace fxserve::backends::fpga

int main() { return fxserve::backends::fpga::Serve(); }
