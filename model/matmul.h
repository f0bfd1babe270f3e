// Float32 matrix products through oneDNN, for the reference forward pass.
#ifndef FXSERVE_MODEL_MATMUL_H_
#define FXSERVE_MODEL_MATMUL_H_

namespace fxserve::model {

// c[m, n] = a[m, k] * b + bias, all row-major. b is [k, n], or [n, k] when
// `b_transposed` (e.g. the tied embedding as LM head). bias may be null.
void MatMulF32(const float* a, int m, int k, const float* b, int n,
               bool b_transposed, const float* bias, float* c);

}  // namespace fxserve::model

#endif  // FXSERVE_MODEL_MATMUL_H_
