// libFuzzer target: any bytes given to the safetensors reader and to the
// config.json parser must produce a value or an error status, never a
// crash, hang or sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string>

#include "model/gpt2_config.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using fxserve::model::Gpt2Config;
  using fxserve::model::SafetensorsFile;
  const auto file = SafetensorsFile::Parse({data, size});
  if (file.ok()) {
    for (const auto& tensor : file->tensors()) {
      const auto values = SafetensorsFile::ToFloat(tensor);
      if (values.ok() &&
          values->size() != static_cast<size_t>(tensor.NumElements())) {
        __builtin_trap();  // The reader promised this many values.
      }
    }
  }
  const auto config = Gpt2Config::FromJson(
      std::string(reinterpret_cast<const char*>(data), size), "fuzz input");
  if (config.ok() && !config->Validate().ok()) __builtin_trap();
  return 0;
}
