// libFuzzer target: any bytes given to the TF.js graph-model loader must
// produce a model or an error status, never a crash, hang or sanitizer
// report. Input: model.json, a NUL byte, then the one weight shard that
// every manifest path reads.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "model/tfjs/graph_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using fxserve::model::tfjs::GraphModel;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find('\0');
  const std::string_view json = input.substr(0, split);
  const std::string shard(split == std::string_view::npos
                              ? std::string_view()
                              : input.substr(split + 1));
  const auto model = fxserve::model::tfjs::ParseGraphModel(
      json, [&shard](const std::string&) { return shard; });
  if (model.ok()) {
    for (const auto& [name, tensor] : model->weights) {
      const size_t values = tensor.floats.size() + tensor.ints.size();
      if (values != static_cast<size_t>(tensor.elements())) {
        __builtin_trap();  // The loader promised this many values.
      }
    }
  }
  return 0;
}
