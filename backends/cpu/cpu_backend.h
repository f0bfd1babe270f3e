// The CPU backend: fxserve's numerics (kernels/top/NUMERICS.md) in native
// integer code, bit for bit what the HLS kernels compute, fast enough to
// serve. Matrix products are exact int32 (int8_matmul.h: AVX-512 VNNI,
// AVX2 or scalar, chosen at run time, FXSERVE_CPU_ISA to force one); the
// other operations are int_ops.h. Work is split over a thread pool by
// output rows, tokens and heads; every sum is exact before its one
// rounding, so results do not depend on thread count, ISA, batch size or
// batch composition. The KV cache is paged: blocks of kv_block_tokens
// positions holding int8 codes, addressed through KvBlockTable.
#ifndef FXSERVE_BACKENDS_CPU_CPU_BACKEND_H_
#define FXSERVE_BACKENDS_CPU_CPU_BACKEND_H_

#include <memory>

#include "absl/status/statusor.h"
#include "backends/backend.h"
#include "model/quantized_gpt2.h"

namespace fxserve::backends::cpu {

absl::StatusOr<std::unique_ptr<Backend>> CreateCpuBackend(
    const model::QuantizedGpt2& model, const BackendOptions& options);

}  // namespace fxserve::backends::cpu

#endif  // FXSERVE_BACKENDS_CPU_CPU_BACKEND_H_
