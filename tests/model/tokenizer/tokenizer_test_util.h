// Helpers shared by the tokenizer tests: GPT-2's real files, and scratch
// folders to write variants of them into.
#ifndef FXSERVE_TESTS_MODEL_TOKENIZER_TOKENIZER_TEST_UTIL_H_
#define FXSERVE_TESTS_MODEL_TOKENIZER_TOKENIZER_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fxserve::model::tokenizer_test {

// Set by CMake: the folder with GPT-2's encoder.json and vocab.bpe.
inline const std::string kGpt2Dir = FXSERVE_GPT2_TOKENIZER_DIR;

inline std::string ReadFileOrEmpty(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

inline void WriteFile(const std::filesystem::path& path,
                      const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// A fresh empty folder, removed with everything in it on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::path(::testing::TempDir()) /
            ("fxserve_tokenizer_" + std::to_string(getpid()) + "_" +
             std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  void Write(const std::string& name, const std::string& contents) const {
    WriteFile(path_ / name, contents);
  }

 private:
  std::filesystem::path path_;
};

}  // namespace fxserve::model::tokenizer_test

#endif  // FXSERVE_TESTS_MODEL_TOKENIZER_TOKENIZER_TEST_UTIL_H_
