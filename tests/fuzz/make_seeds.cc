// Writes seed corpora, so the fuzzers start from inputs that reach deep
// into the parsers: valid safetensors files and configs in DIR; with
// TFJS_DIR a small TF.js graph model in tfjs_fuzzer's input format; with
// IMAGE_DIR a small PNG and JPEG.
#include <png.h>
#include <turbojpeg.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "tests/model/test_checkpoint.h"

namespace {

// A 4x4 RGB gradient as PNG (libpng) and JPEG (TurboJPEG).
void WriteImageSeeds(const std::string& dir) {
  std::vector<uint8_t> rgb(4 * 4 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 5);
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = png.height = 4;
  png.format = PNG_FORMAT_RGB;
  png_image_write_to_file(&png, (dir + "/seed.png").c_str(), 0, rgb.data(), 0,
                          nullptr);
  tjhandle tj = tjInitCompress();
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  if (tjCompress2(tj, rgb.data(), 4, 0, 4, TJPF_RGB, &jpeg, &size, TJSAMP_420,
                  90, 0) == 0) {
    std::ofstream(dir + "/seed.jpg", std::ios::binary)
        .write(reinterpret_cast<const char*>(jpeg), size);
  }
  tjFree(jpeg);
  tjDestroy(tj);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) return 2;
  using fxserve::model::testing::TestTensor;
  const std::string dir = argv[1];
  const auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
  };
  const auto bytes = fxserve::model::testing::SafetensorsBytes({
      {"wte.weight", TestTensor{"F32", {2, 2}, {1, 2, 3, 4}, {}}},
      {"h.0.ln_1.bias", TestTensor{"F16", {2}, {}, {0x3c00, 0x8001}}},
      {"ln_f.weight", TestTensor{"BF16", {1, 1}, {}, {0x7f80}}},
  });
  write("valid.safetensors", std::string(bytes.begin(), bytes.end()));
  write("config.json", fxserve::model::testing::ConfigJson(
                           fxserve::model::testing::TinyShape{}));
  if (argc >= 4) WriteImageSeeds(argv[3]);
  if (argc >= 3) {
    // model.json, NUL, the shard: two float16 weights feeding a conv.
    const std::string json = R"({"format": "graph-model",
      "modelTopology": {"node": [
        {"name": "x", "op": "Placeholder",
         "attr": {"shape": {"shape": {"dim": [{"size": "1"}]}}}},
        {"name": "w", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}}},
        {"name": "y", "op": "Conv2D", "input": ["x", "w"],
         "attr": {"padding": {"s": "U0FNRQ=="},
                  "strides": {"list": {"i": ["1", "1", "1", "1"]}}}}]},
      "signature": {"inputs": {"x": {}}, "outputs": {"y": {}}},
      "weightsManifest": [{"paths": ["s.bin"], "weights": [
        {"name": "w", "shape": [1, 1, 1, 2], "dtype": "float32",
         "quantization": {"dtype": "float16"}}]}]})";
    const std::string shard = {'\x00', '\x3c', '\x00', '\xc2'};
    std::ofstream(std::string(argv[2]) + "/graph-model.seed", std::ios::binary)
        << json << '\0' << shard;
  }
  return 0;
}
