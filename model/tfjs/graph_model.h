// TF.js graph models (the `graph-model` format of tensorflowjs_converter):
// `model.json` holds the TensorFlow graph as NodeDefs in JSON (string
// attributes base64) and a manifest of weight shards; the weights are the
// graph's Const nodes, stored in manifest order across the concatenated
// shards, float32 or int32, float32 possibly stored as float16. This is
// the loader only; model/centernet/ runs the graph.
#ifndef FXSERVE_MODEL_TFJS_GRAPH_MODEL_H_
#define FXSERVE_MODEL_TFJS_GRAPH_MODEL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fxserve::model::tfjs {

enum class DataType { kFloat32, kInt32, kBool };

// "float32", "int32", "bool".
const char* DataTypeName(DataType type);

struct Tensor {
  DataType dtype = DataType::kFloat32;
  std::vector<int64_t> shape;
  std::vector<float> floats;  // kFloat32.
  std::vector<int32_t> ints;  // kInt32.

  int64_t elements() const;
};

// One attribute of a NodeDef: the kinds graph models use. Unset fields
// were absent.
struct AttrValue {
  std::optional<int64_t> i;
  std::optional<float> f;
  std::optional<bool> b;
  std::optional<std::string> s;  // Decoded from base64.
  std::optional<DataType> type;  // DT_FLOAT, DT_INT32, DT_BOOL.
  std::vector<int64_t> list_i;
  std::vector<std::string> list_s;  // Decoded.
  std::optional<std::vector<int64_t>> shape;
};

struct Node {
  std::string name;
  std::string op;
  // Producers: "node" (output 0) or "node:k"; control inputs ("^node")
  // are dropped.
  std::vector<std::string> inputs;
  std::map<std::string, AttrValue> attrs;
};

struct GraphModel {
  std::vector<Node> nodes;                // As in the file.
  std::map<std::string, Tensor> weights;  // By Const node name.
  std::vector<std::string> inputs;        // Signature inputs, by name.
  std::vector<std::string> outputs;       // Signature outputs, by name.

  const Node* FindNode(std::string_view name) const;
};

// The ops fxserve's executors run; a graph with another op is refused
// with the node's name and the op.
absl::Span<const std::string_view> SupportedOps();

// Reads `model_json` and its shards (named relative to its folder).
// Errors name the file and what is wrong: a missing or short shard, a
// tensor whose bytes do not fit, an unknown op, a dangling input.
absl::StatusOr<GraphModel> LoadGraphModel(const std::string& model_json);

// The same on bytes in memory; `read_shard` returns a shard by its path in
// the manifest (the fuzzer's entry point).
using ShardReader =
    std::function<absl::StatusOr<std::string>(const std::string& path)>;
absl::StatusOr<GraphModel> ParseGraphModel(std::string_view model_json,
                                           const ShardReader& read_shard);

// IEEE 754 binary16 -> float, exactly (subnormals, inf and NaN too).
float HalfToFloat(uint16_t half);

}  // namespace fxserve::model::tfjs

#endif  // FXSERVE_MODEL_TFJS_GRAPH_MODEL_H_
