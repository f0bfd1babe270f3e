// Writes a few valid safetensors files and configs as the fuzzer's seed
// corpus, so it starts from inputs that reach deep into the parser.
#include <fstream>
#include <string>

#include "tests/model/test_checkpoint.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
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
  return 0;
}
