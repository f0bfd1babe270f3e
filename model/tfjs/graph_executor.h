// Runs a TF.js graph model in float32 (int32 and bool where the graph
// computes indices), node by node, with TensorFlow's semantics for each
// op: the float reference of the detector, as gpt2_reference is for GPT-2.
// Written for clarity, not speed (a 512x512 CenterNet takes seconds).
#ifndef FXSERVE_MODEL_TFJS_GRAPH_EXECUTOR_H_
#define FXSERVE_MODEL_TFJS_GRAPH_EXECUTOR_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/tfjs/graph_model.h"
#include "model/tfjs/graph_ops.h"

namespace fxserve::model::tfjs {

// Tensors by name: a node's name for its first output, "node:k" for
// output k (only TopKV2 has a second one, its indices).
using TensorMap = std::map<std::string, Tensor>;

// Evaluates `outputs` (node names) of `model` from `inputs` (Placeholder
// names), computing only the nodes they need. Errors name the node: a
// missing input, a shape that does not fit an op, an attribute it does not
// support.
absl::StatusOr<TensorMap> RunGraph(const GraphModel& model,
                                   const TensorMap& inputs,
                                   absl::Span<const std::string> outputs);

// A conv node's stride, padding, depthwise-ness and fused activation
// (BiasAdd, then optionally Relu or Relu6); UNIMPLEMENTED for anything else.
absl::StatusOr<ops::ConvSpec> ConvSpecOf(const Node& node, bool depthwise);

}  // namespace fxserve::model::tfjs

#endif  // FXSERVE_MODEL_TFJS_GRAPH_EXECUTOR_H_
