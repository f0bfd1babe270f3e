// A KernelRunner for the GPT-2 step top of one build M: copies the device
// allocations into 512-bit words, runs Gpt2Step<M> (C-simulation of
// kernels/top/gpt2_step.h) and copies the buffers the kernel writes back.
// Included only by the per-shape card_runner_<shape>.cc files.
#ifndef FXSERVE_BACKENDS_FPGA_EMULATION_GPT2_STEP_RUNNER_H_
#define FXSERVE_BACKENDS_FPGA_EMULATION_GPT2_STEP_RUNNER_H_

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "backends/fpga/emulation/kernel_runner.h"
#include "backends/fpga/gpt2_card.h"
#include "kernels/top/gpt2_step.h"

namespace fxserve::backends::fpga {

namespace kgpt2 = kernels::gpt2;

// Whole words of a device allocation (a trailing partial word is dropped:
// the host allocates whole words).
inline std::vector<kgpt2::word_t> ToWords(absl::Span<const uint8_t> bytes) {
  std::vector<kgpt2::word_t> words(bytes.size() / kgpt2::device::kWordBytes);
  for (size_t i = 0; i < words.size(); ++i) {
    words[i] = kgpt2::PackWord(bytes.data() + i * kgpt2::device::kWordBytes);
  }
  return words;
}

inline void FromWords(const std::vector<kgpt2::word_t>& words,
                      absl::Span<uint8_t> bytes) {
  for (size_t i = 0; i < words.size(); ++i) {
    kgpt2::UnpackWord(words[i], bytes.data() + i * kgpt2::device::kWordBytes);
  }
}

template <class M>
class Gpt2StepRunner final : public KernelRunner {
 public:
  explicit Gpt2StepRunner(std::string kernel_name)
      : kernel_name_(std::move(kernel_name)) {}

  absl::Status Run(const KernelManifest& kernel,
                   absl::Span<const ArgValue> args) override {
    if (kernel.name != kernel_name_ ||
        args.size() != static_cast<size_t>(kGpt2StepArgs)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the card plays ", kernel_name_, " with ", kGpt2StepArgs,
                       " arguments, not ", kernel.name, " with ", args.size()));
    }
    std::vector<kgpt2::word_t>* words = words_;
    for (int a = 0; a < kGpt2StepArgs; ++a) {
      if (args[a].bytes.size() <
          static_cast<size_t>(kgpt2::device::kWordBytes)) {
        return absl::InvalidArgumentError(
            absl::StrCat("argument ", kernel.args[a].name, " (address 0x",
                         absl::Hex(args[a].address),
                         ") is not in a device allocation of whole words"));
      }
      // The weights stay between launches: convert them again only when
      // the host wrote other bytes (a memcmp is cheap next to a convert).
      const bool weights = a <= kArgHead;
      if (weights &&
          std::equal(args[a].bytes.begin(), args[a].bytes.end(),
                     weight_bytes_[a].begin(), weight_bytes_[a].end())) {
        continue;
      }
      words[a] = ToWords(args[a].bytes);
      if (weights) {
        weight_bytes_[a].assign(args[a].bytes.begin(), args[a].bytes.end());
      }
    }
    kgpt2::StepBuffers<M> buffers{
        words[kArgEmb].data(),   words[kArgAttn].data(), words[kArgMlp].data(),
        words[kArgHead].data(),  words[kArgKv].data(),   words[kArgStep].data(),
        words[kArgLogits].data()};
    kgpt2::Gpt2Step<M>(buffers);
    for (int a : {kArgKv, kArgStep, kArgLogits}) {
      FromWords(words[a], args[a].bytes);
    }
    return absl::OkStatus();
  }

 private:
  std::string kernel_name_;
  std::vector<kgpt2::word_t> words_[kGpt2StepArgs];
  std::vector<uint8_t> weight_bytes_[kArgHead + 1];  // As last converted.
};

// The runner of build "gpt2-<shape_name>-w<bits>a8-<scales>" among Shape's
// four builds, or nullptr.
template <class Shape>
std::unique_ptr<KernelRunner> CreateGpt2StepRunnerFor(
    const std::string& shape_name, const std::string& build) {
  using kernels::ScaleMode;
  const std::string prefix = "gpt2-" + shape_name + "-";
  if (build == prefix + "w8a8-pow2") {
    return std::make_unique<
        Gpt2StepRunner<kgpt2::Gpt2Config<Shape, 8, ScaleMode::kPow2>>>(
        Gpt2StepKernelName(build));
  }
  if (build == prefix + "w8a8-fixed") {
    return std::make_unique<
        Gpt2StepRunner<kgpt2::Gpt2Config<Shape, 8, ScaleMode::kFixed>>>(
        Gpt2StepKernelName(build));
  }
  if (build == prefix + "w4a8-pow2") {
    return std::make_unique<
        Gpt2StepRunner<kgpt2::Gpt2Config<Shape, 4, ScaleMode::kPow2>>>(
        Gpt2StepKernelName(build));
  }
  if (build == prefix + "w4a8-fixed") {
    return std::make_unique<
        Gpt2StepRunner<kgpt2::Gpt2Config<Shape, 4, ScaleMode::kFixed>>>(
        Gpt2StepKernelName(build));
  }
  return nullptr;
}

}  // namespace fxserve::backends::fpga

#endif  // FXSERVE_BACKENDS_FPGA_EMULATION_GPT2_STEP_RUNNER_H_
