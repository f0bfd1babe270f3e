// The quantized CenterNet detector on the CPU: the integer graph of
// kernels/detect/NUMERICS.md, bit-exact with the plain integer reference
// (model/centernet/int_reference.h: the same `keypoints` and `detections`
// for every input, thread count and instruction set), and fast: weights
// repacked once for the ISA's integer dot products (AVX-512 VNNI vpdpbusd,
// AVX2 vpmaddwd), activations kept as 8-bit codes, every sum exact in
// int32 or int64, the work split over a thread pool.
//
// Create checks the model against the shapes a 512 x 512 x 3 input gives
// (InvalidArgument where the reference would fail at run time) and picks,
// per layer, the SIMD kernels or, where a layer's registers or value
// ranges fall outside the bounds those kernels prove exact (e.g. a bias so
// large that a sum could leave int32), the scalar kernels that follow the
// reference in int64. Layers that the heads do not depend on are skipped.
// Run is thread-safe; concurrent calls share the thread pool (its loops
// are serialized) and each use their own buffers (kept for reuse).
#ifndef FXSERVE_BACKENDS_CPU_DETECTOR_CPU_DETECTOR_H_
#define FXSERVE_BACKENDS_CPU_DETECTOR_CPU_DETECTOR_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "backends/cpu/int8_matmul.h"
#include "backends/cpu/thread_pool.h"
#include "model/centernet/int_reference.h"
#include "model/centernet/quantized_detector.h"

namespace fxserve::backends::cpu {

struct CpuDetectorOptions {
  // Threads per Run (the caller's and threads - 1 workers); 0: the
  // hardware's.
  int threads = 0;
  // "scalar", "avx2", "avx512vnni", or "" for the best this CPU has
  // (FXSERVE_CPU_ISA overrides the automatic choice, as SelectIsa says).
  std::string isa = "";
};

class CpuDetector {
 public:
  using Options = CpuDetectorOptions;

  // InvalidArgument for an unknown ISA, one this CPU lacks, or a model
  // that does not fit the input (shapes, missing tensors, registers
  // outside the contract); Unimplemented for a layer reading a 16-bit
  // logits tensor.
  static absl::StatusOr<std::unique_ptr<CpuDetector>> Create(
      const model::centernet::QuantizedDetector& model,
      const Options& options = {});

  ~CpuDetector();
  CpuDetector(const CpuDetector&) = delete;
  CpuDetector& operator=(const CpuDetector&) = delete;

  // Wall time of one step of a run (a layer, or the decode).
  struct StepTime {
    std::string name;  // The layer's output, or "decode".
    const char* kind;  // "pointwise", "conv", "depthwise", "se", "add",
                       // "resize", "concat", "decode".
    double seconds;
  };

  // `input`: 512 * 512 * 3 bytes (model::centernet::ResizeToInput);
  // InvalidArgument for another size. `profile`, if given, receives each
  // step's wall time (for benchmarks).
  absl::StatusOr<model::centernet::IntDetectorOutput> Run(
      absl::Span<const uint8_t> input,
      std::vector<StepTime>* profile = nullptr) const;

  const char* isa() const { return IsaName(isa_); }
  int threads() const { return pool_->size(); }
  // The layers that run on the scalar kernels although the ISA is a SIMD
  // one (registers or value ranges outside the SIMD kernels' proven
  // bounds); none for fxtool quantize's W8A8 CenterNet.
  const std::vector<std::string>& scalar_layers() const {
    return scalar_layers_;
  }

  struct Plan;
  struct Workspace;

 private:
  CpuDetector() = default;

  std::unique_ptr<Workspace> TakeWorkspace() const;
  void ReturnWorkspace(std::unique_ptr<Workspace> ws) const;

  Isa isa_ = Isa::kScalar;
  std::unique_ptr<Plan> plan_;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<std::string> scalar_layers_;
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<Workspace>> free_workspaces_;
};

}  // namespace fxserve::backends::cpu

#endif  // FXSERVE_BACKENDS_CPU_DETECTOR_CPU_DETECTOR_H_
