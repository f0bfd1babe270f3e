// The host-side packer of the device-memory layout
// (kernels/top/gpt2_device_layout.h): a quantized GPT-2 becomes the bytes
// of the four weight buffers the step top reads, and the build name of the
// xclbin that can run it.
#ifndef FXSERVE_BACKENDS_FPGA_GPT2_DEVICE_IMAGE_H_
#define FXSERVE_BACKENDS_FPGA_GPT2_DEVICE_IMAGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/top/gpt2_device_layout.h"
#include "model/quantized_gpt2.h"

namespace fxserve::backends::fpga {

namespace device = kernels::gpt2::device;

// The layout dimensions of a model (vocab padded as the LM head is).
device::Dims DimsOfModel(const model::QuantizedGpt2& model);

// "gpt2-<shape>-w<bits>a8-<scales>", e.g. "gpt2-tiny-w4a8-pow2": the build
// an xclbin must be made for to run this model. NotFound when no kernel
// build has the model's shape (the list says which exist).
absl::StatusOr<std::string> Gpt2BuildName(const model::QuantizedGpt2& model);

struct Gpt2DeviceImage {
  device::Dims dims;
  std::vector<uint8_t> emb, attn, mlp, head;
};

// InvalidArgument naming the tensor and index of a code outside its
// hardware format (the kernels would silently wrap it).
absl::StatusOr<Gpt2DeviceImage> PackGpt2DeviceImage(
    const model::QuantizedGpt2& model);

}  // namespace fxserve::backends::fpga

#endif  // FXSERVE_BACKENDS_FPGA_GPT2_DEVICE_IMAGE_H_
