// Packing, ISA selection and the dispatcher. Compiled for baseline x86-64:
// the AVX kernels live in int8_matmul_avx2.cc and int8_matmul_avx512.cc,
// built with their own flags and only called when the CPU has them.
#include "backends/cpu/int8_matmul.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace fxserve::backends::cpu {
namespace {

using int8_matmul_internal::KernelArgs;

constexpr Isa kAllIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni};
constexpr int kRows = PackedWeights::kPanelRows;
// Storage of at least this size is aligned for (and advised to use)
// transparent huge pages: fewer TLB misses while streaming the weights.
constexpr size_t kHugePage = size_t{2} << 20;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "fxserve::backends::cpu::MatMul: %s\n", what);
  std::abort();
}

bool CpuHas(Isa isa) {
#if defined(FXSERVE_CPU_X86_KERNELS)
  __builtin_cpu_init();  // Idempotent; safe before static constructors.
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::kAvx512Vnni:
      return __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512vnni");
  }
  return false;
#else
  return isa == Isa::kScalar;
#endif
}

std::string SupportedNames() {
  std::vector<std::string> names;
  for (Isa isa : kAllIsas) {
    if (IsaSupported(isa)) names.push_back(IsaName(isa));
  }
  return absl::StrJoin(names, ", ");
}

// Per-thread activation staging: x zero padded to padded_in per token, and
// the per-token correction. Reused across calls (no allocation per GEMV
// once warm).
struct Staging {
  std::vector<int8_t> x;
  std::vector<int16_t> x16;
  std::vector<int32_t> correction;
};

Staging& ThreadStaging() {
  thread_local Staging staging;
  return staging;
}

}  // namespace

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512Vnni:
      return "avx512vnni";
  }
  return "unknown";
}

bool IsaSupported(Isa isa) {
  static const bool supported[] = {CpuHas(Isa::kScalar), CpuHas(Isa::kAvx2),
                                   CpuHas(Isa::kAvx512Vnni)};
  const int i = static_cast<int>(isa);
  return i >= 0 && i < 3 && supported[i];
}

absl::StatusOr<Isa> SelectIsa() {
  const char* env = std::getenv("FXSERVE_CPU_ISA");
  if (env == nullptr || *env == '\0') {
    Isa best = Isa::kScalar;
    for (Isa isa : kAllIsas) {
      if (IsaSupported(isa)) best = isa;
    }
    return best;
  }
  const std::string_view name(env);
  for (Isa isa : kAllIsas) {
    if (name != IsaName(isa)) continue;
    if (IsaSupported(isa)) return isa;
    return absl::InvalidArgumentError(absl::StrCat(
        "FXSERVE_CPU_ISA=", env, ": this CPU does not support it (valid: ",
        "scalar, avx2, avx512vnni; this CPU supports: ", SupportedNames(),
        ")"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "FXSERVE_CPU_ISA=", env, " is not an ISA name (valid: scalar, avx2, ",
      "avx512vnni; this CPU supports: ", SupportedNames(), ")"));
}

void PackedWeights::Free::operator()(uint8_t* p) const {
  ::operator delete[](p, std::align_val_t{alignment});
}

absl::StatusOr<PackedWeights> PackedWeights::Pack(absl::Span<const int8_t> w,
                                                  int out, int in, int bits) {
  if (bits != 8 && bits != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("weight bits must be 8 or 4, not ", bits));
  }
  if (out < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("out must be at least 1, not ", out));
  }
  if (in < 1 || in > kMaxIn) {
    return absl::InvalidArgumentError(
        absl::StrCat("in must be in [1, ", kMaxIn, "], not ", in));
  }
  const size_t count = static_cast<size_t>(out) * static_cast<size_t>(in);
  if (w.size() != count) {
    return absl::InvalidArgumentError(absl::StrCat("weights have ", w.size(),
                                                   " codes; out * in = ", out,
                                                   " * ", in, " = ", count));
  }
  if (bits == 4) {
    for (size_t k = 0; k < count; ++k) {
      if (w[k] < -8 || w[k] > 7) {
        return absl::InvalidArgumentError(
            absl::StrCat("int4 code ", w[k], " at row ", k / in, ", input ",
                         k % in, " is outside -8..7"));
      }
    }
  }

  PackedWeights p;
  p.out_ = out;
  p.in_ = in;
  p.bits_ = bits;
  p.padded_in_ = (in + kInAlign - 1) / kInAlign * kInAlign;
  p.panels_ = (out + kRows - 1) / kRows;
  p.panel_bytes_ = static_cast<size_t>(p.padded_in_) * kRows * bits / 8;
  const size_t bytes = p.bytes();
  const size_t alignment = bytes >= kHugePage ? kHugePage : 64;
  const size_t allocated = (bytes + alignment - 1) / alignment * alignment;
  p.data_ = std::unique_ptr<uint8_t[], Free>(
      static_cast<uint8_t*>(
          ::operator new[](allocated, std::align_val_t{alignment})),
      Free{alignment});
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (alignment == kHugePage) {
    madvise(p.data_.get(), allocated, MADV_HUGEPAGE);  // Advice only.
  }
#endif
  uint8_t* data = p.data_.get();
  // Padding (rows past out, inputs past in) is zero: its products with the
  // zero padded activations vanish.
  std::memset(data, 0, allocated);
  const int bias = p.code_bias();
  for (int o = 0; o < out; ++o) {
    uint8_t* panel = data + static_cast<size_t>(o / kRows) * p.panel_bytes_;
    const int r = o % kRows;
    const int8_t* row = w.data() + static_cast<size_t>(o) * in;
    for (int i = 0; i < in; ++i) {
      const uint8_t u = static_cast<uint8_t>(row[i] + bias);
      if (bits == 8) {
        panel[(i / 4) * 64 + r * 4 + i % 4] = u;
      } else {
        const int j = i / 8;
        const int k = i % 8;
        uint8_t& byte = panel[j * 64 + r * 4 + k % 4];
        byte |= k < 4 ? u : static_cast<uint8_t>(u << 4);
      }
    }
  }
  return p;
}

std::vector<int8_t> PackedWeights::Unpack() const {
  std::vector<int8_t> w(static_cast<size_t>(out_) * in_);
  const int bias = code_bias();
  for (int o = 0; o < out_; ++o) {
    const uint8_t* panel =
        data_.get() + static_cast<size_t>(o / kRows) * panel_bytes_;
    const int r = o % kRows;
    for (int i = 0; i < in_; ++i) {
      int u;
      if (bits_ == 8) {
        u = panel[(i / 4) * 64 + r * 4 + i % 4];
      } else {
        const int k = i % 8;
        const uint8_t byte = panel[(i / 8) * 64 + r * 4 + k % 4];
        u = k < 4 ? byte & 15 : byte >> 4;
      }
      w[static_cast<size_t>(o) * in_ + i] = static_cast<int8_t>(u - bias);
    }
  }
  return w;
}

void MatMul(Isa isa, const PackedWeights& w, const int8_t* x, int tokens,
            int o_begin, int o_end, int32_t* acc, int acc_stride) {
  if (!IsaSupported(isa)) Die("the ISA is not supported by this CPU");
  if (tokens < 1) Die("tokens < 1");
  if (o_begin < 0 || o_begin > o_end || o_end > w.out()) {
    Die("row range outside [0, out]");
  }
  if (acc_stride < o_end) Die("acc_stride < o_end");
  if (o_begin == o_end) return;

  // Stage the activations: zero padded rows and per-token corrections.
  const int in = w.in();
  const int padded_in = w.padded_in();
  Staging& staging = ThreadStaging();
  staging.x.resize(static_cast<size_t>(tokens) * padded_in);
  staging.correction.resize(tokens);
  for (int t = 0; t < tokens; ++t) {
    const int8_t* src = x + static_cast<size_t>(t) * in;
    int8_t* dst = staging.x.data() + static_cast<size_t>(t) * padded_in;
    std::memcpy(dst, src, in);
    std::memset(dst + in, 0, padded_in - in);
    int32_t sum = 0;
    for (int i = 0; i < in; ++i) sum += src[i];
    staging.correction[t] = w.code_bias() * sum;
  }

  // The AVX2 int8 kernel's form of x (see KernelArgs::x16).
  const int16_t* x16 = nullptr;
  if (isa == Isa::kAvx2 && w.bits() == 8) {
    const size_t n = static_cast<size_t>(tokens) * padded_in;
    staging.x16.resize(n);
    for (size_t i = 0; i < n; i += 4) {
      const int8_t* src = staging.x.data() + i;
      int16_t* dst = staging.x16.data() + i;
      dst[0] = src[0];
      dst[1] = src[2];
      dst[2] = src[1];
      dst[3] = src[3];
    }
    x16 = staging.x16.data();
  }

  const KernelArgs args{.weights = w.data(),
                        .panel_bytes = w.panel_bytes(),
                        .padded_in = padded_in,
                        .bits = w.bits(),
                        .x = staging.x.data(),
                        .x16 = x16,
                        .correction = staging.correction.data(),
                        .tokens = tokens,
                        .o_begin = o_begin,
                        .o_end = o_end,
                        .acc = acc,
                        .acc_stride = acc_stride};
  switch (isa) {
    case Isa::kScalar:
      int8_matmul_internal::MatMulScalar(args);
      return;
    case Isa::kAvx2:
#if defined(FXSERVE_CPU_X86_KERNELS)
      int8_matmul_internal::MatMulAvx2(args);
      return;
#else
      break;
#endif
    case Isa::kAvx512Vnni:
#if defined(FXSERVE_CPU_X86_KERNELS)
      int8_matmul_internal::MatMulAvx512Vnni(args);
      return;
#else
      break;
#endif
  }
  Die("unknown ISA");
}

namespace int8_matmul_internal {

// Portable kernel: one panel at a time, all tokens, the same biased
// products and correction as the vector kernels.
void MatMulScalar(const KernelArgs& a) {
  const int first_panel = a.o_begin / kRows;
  const int last_panel = (a.o_end - 1) / kRows;
  for (int p = first_panel; p <= last_panel; ++p) {
    const uint8_t* panel = a.weights + static_cast<size_t>(p) * a.panel_bytes;
    const int r_begin = p == first_panel ? a.o_begin - p * kRows : 0;
    const int r_end = p == last_panel ? a.o_end - p * kRows : kRows;
    for (int t = 0; t < a.tokens; ++t) {
      const int8_t* x = a.x + static_cast<size_t>(t) * a.padded_in;
      int32_t sums[kRows] = {};
      if (a.bits == 8) {
        for (int g = 0; g < a.padded_in / 4; ++g) {
          const uint8_t* wg = panel + g * 64;
          const int8_t* xg = x + 4 * g;
          for (int r = 0; r < kRows; ++r) {
            for (int k = 0; k < 4; ++k) sums[r] += wg[r * 4 + k] * xg[k];
          }
        }
      } else {
        for (int j = 0; j < a.padded_in / 8; ++j) {
          const uint8_t* wj = panel + j * 64;
          const int8_t* xj = x + 8 * j;
          for (int r = 0; r < kRows; ++r) {
            for (int k = 0; k < 4; ++k) {
              const int byte = wj[r * 4 + k];
              sums[r] += (byte & 15) * xj[k] + (byte >> 4) * xj[4 + k];
            }
          }
        }
      }
      int32_t* out = a.acc + static_cast<size_t>(t) * a.acc_stride + p * kRows;
      for (int r = r_begin; r < r_end; ++r) {
        out[r] = sums[r] - a.correction[t];
      }
    }
  }
}

}  // namespace int8_matmul_internal

}  // namespace fxserve::backends::cpu
