#include "backends/fpga/gpt2_card.h"

#include "absl/strings/str_cat.h"

namespace fxserve::backends::fpga {
namespace {

// Vitis' AXI-lite map: control at 0x00..0x0F, then each 64-bit pointer in
// 12 bytes (8 data + 4 reserved), from 0x10.
constexpr uint32_t kFirstArgOffset = 0x10;
constexpr uint32_t kPointerStride = 0xC;
// Emulated banks: 4 GiB apart, so that no two allocations overlap.
constexpr uint64_t kBankSpan = uint64_t{4} << 30;
// The first CU's control registers, and the distance to the next one.
constexpr uint64_t kCuBase = 0x1800000;
constexpr uint64_t kCuStride = 0x10000;

}  // namespace

std::string Gpt2StepKernelName(const std::string& build) {
  std::string name = "fxserve_" + build;
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

std::vector<std::string> AllGpt2Builds() {
  std::vector<std::string> builds;
  for (const char* shape : {"tiny", "small"}) {
    for (const char* bits : {"w8a8", "w4a8"}) {
      for (const char* scales : {"pow2", "fixed"}) {
        builds.push_back(absl::StrCat("gpt2-", shape, "-", bits, "-", scales));
      }
    }
  }
  return builds;
}

CardManifest Gpt2CardManifest(const std::string& build, int compute_units) {
  static constexpr const char* kArgNames[kGpt2StepArgs] = {
      "emb", "attn", "mlp", "head", "kv", "step", "logits"};
  // emb, attn, mlp, head and kv each on their own bank; step and logits
  // (small, per launch) share one.
  static constexpr int kArgBank[kGpt2StepArgs] = {0, 1, 2, 3, 4, 5, 5};
  CardManifest m;
  m.build = build;
  for (int b = 0; b < 6; ++b) {
    m.banks.push_back({absl::StrCat("HBM[", b, "]"), b * kBankSpan, kBankSpan});
  }
  KernelManifest k;
  k.name = Gpt2StepKernelName(build);
  for (int a = 0; a < kGpt2StepArgs; ++a) {
    k.args.push_back({kArgNames[a], true, kFirstArgOffset + a * kPointerStride,
                      8, kArgBank[a], "ap_uint<512>*"});
  }
  for (int cu = 0; cu < compute_units; ++cu) {
    k.cu_bases.push_back(kCuBase + cu * kCuStride);
  }
  m.kernels.push_back(std::move(k));
  return m;
}

}  // namespace fxserve::backends::fpga
