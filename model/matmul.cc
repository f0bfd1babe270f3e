#include "model/matmul.h"

#include <unordered_map>

#include "dnnl.hpp"

namespace fxserve::model {
namespace {

using dnnl::memory;
using Dims = memory::dims;

dnnl::engine& CpuEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

}  // namespace

void MatMulF32(const float* a, int m, int k, const float* b, int n,
               bool b_transposed, const float* bias, float* c) {
  dnnl::engine& engine = CpuEngine();
  const memory::desc a_md({m, k}, memory::data_type::f32,
                          memory::format_tag::ab);
  const memory::desc b_md(
      {k, n}, memory::data_type::f32,
      b_transposed ? memory::format_tag::ba : memory::format_tag::ab);
  const memory::desc c_md({m, n}, memory::data_type::f32,
                          memory::format_tag::ab);
  const memory::desc bias_md({1, n}, memory::data_type::f32,
                             memory::format_tag::ab);
  // oneDNN 2.x: an operation descriptor, then a primitive descriptor.
  const dnnl::matmul::desc desc =
      bias != nullptr ? dnnl::matmul::desc(a_md, b_md, bias_md, c_md)
                      : dnnl::matmul::desc(a_md, b_md, c_md);
  const dnnl::matmul::primitive_desc pd(desc, engine);
  memory a_mem(a_md, engine, const_cast<float*>(a));
  memory b_mem(b_md, engine, const_cast<float*>(b));
  memory c_mem(c_md, engine, c);
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}};
  if (bias != nullptr) {
    args.insert(
        {DNNL_ARG_BIAS, memory(bias_md, engine, const_cast<float*>(bias))});
  }
  dnnl::stream stream(engine);
  dnnl::matmul(pd).execute(stream, args);
  stream.wait();
}

}  // namespace fxserve::model
