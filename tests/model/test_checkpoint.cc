#include "tests/model/test_checkpoint.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>

#include "nlohmann/json.hpp"

namespace fxserve::model::testing {

std::vector<uint8_t> SafetensorsBytes(
    const std::map<std::string, TestTensor>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::vector<uint8_t> data;
  for (const auto& [name, t] : tensors) {
    const size_t begin = data.size();
    if (t.dtype == "F32") {
      const auto* p = reinterpret_cast<const uint8_t*>(t.values.data());
      data.insert(data.end(), p, p + t.values.size() * 4);
    } else {
      for (uint16_t v : t.raw16) {
        data.push_back(static_cast<uint8_t>(v & 0xff));
        data.push_back(static_cast<uint8_t>(v >> 8));
      }
    }
    header[name] = {{"dtype", t.dtype},
                    {"shape", t.shape},
                    {"data_offsets", {begin, data.size()}}};
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string text = header.dump();
  while (text.size() % 8 != 0) text.push_back(' ');
  // Built by push_back: GCC 12 -O3 misreports insert() after vector(8).
  std::vector<uint8_t> out;
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(n >> (8 * i)));
  out.insert(out.end(), text.begin(), text.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

namespace {

std::map<std::string, std::vector<int64_t>> Shapes(const TinyShape& s) {
  const int64_t e = s.embd;
  std::map<std::string, std::vector<int64_t>> shapes = {
      {"wte.weight", {s.vocab, e}},
      {"wpe.weight", {s.positions, e}},
      {"ln_f.weight", {e}},
      {"ln_f.bias", {e}}};
  for (int i = 0; i < s.layers; ++i) {
    const std::string h = "h." + std::to_string(i) + ".";
    shapes[h + "ln_1.weight"] = {e};
    shapes[h + "ln_1.bias"] = {e};
    shapes[h + "attn.c_attn.weight"] = {e, 3 * e};
    shapes[h + "attn.c_attn.bias"] = {3 * e};
    shapes[h + "attn.c_proj.weight"] = {e, e};
    shapes[h + "attn.c_proj.bias"] = {e};
    shapes[h + "ln_2.weight"] = {e};
    shapes[h + "ln_2.bias"] = {e};
    shapes[h + "mlp.c_fc.weight"] = {e, 4 * e};
    shapes[h + "mlp.c_fc.bias"] = {4 * e};
    shapes[h + "mlp.c_proj.weight"] = {4 * e, e};
    shapes[h + "mlp.c_proj.bias"] = {e};
  }
  return shapes;
}

}  // namespace

std::map<std::string, std::vector<float>> RandomGpt2(const TinyShape& shape,
                                                     uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::map<std::string, std::vector<float>> w;
  for (const auto& [name, dims] : Shapes(shape)) {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    std::vector<float> v(n);
    const bool is_gain = name.find("ln_") != std::string::npos &&
                         name.find("weight") != std::string::npos;
    const bool is_bias = name.find("bias") != std::string::npos;
    for (float& x : v) {
      const float r = normal(rng);
      x = is_gain ? 1.0f + 0.1f * r : (is_bias ? 0.02f * r : 0.1f * r);
    }
    w[name] = std::move(v);
  }
  return w;
}

std::string ConfigJson(const TinyShape& s) {
  return nlohmann::json{
      {"model_type", "gpt2"},       {"vocab_size", s.vocab},
      {"n_positions", s.positions}, {"n_embd", s.embd},
      {"n_layer", s.layers},        {"n_head", s.heads},
      {"n_inner", nullptr},         {"activation_function", "gelu_new"},
      {"layer_norm_epsilon", 1e-5}}
      .dump(2);
}

std::string WriteModelDir(const TinyShape& shape,
                          const std::map<std::string, std::vector<float>>& w,
                          const std::string& prefix) {
  char pattern[] = "/tmp/fxserve-model-XXXXXX";
  const std::string dir = mkdtemp(pattern);
  std::ofstream(dir + "/config.json") << ConfigJson(shape);
  std::map<std::string, TestTensor> tensors;
  const auto shapes = Shapes(shape);
  for (const auto& [name, values] : w) {
    tensors[prefix + name] = TestTensor{"F32", shapes.at(name), values, {}};
  }
  const std::vector<uint8_t> bytes = SafetensorsBytes(tensors);
  std::ofstream(dir + "/model.safetensors", std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return dir;
}

namespace {

using Matrix = std::vector<std::vector<double>>;  // [rows][cols]

Matrix Linear(const Matrix& x, const std::vector<float>& w,
              const std::vector<float>& b, int in, int out) {
  Matrix y(x.size(), std::vector<double>(out));
  for (size_t r = 0; r < x.size(); ++r) {
    for (int o = 0; o < out; ++o) {
      double acc = b[o];
      for (int i = 0; i < in; ++i) acc += x[r][i] * w[size_t(i) * out + o];
      y[r][o] = acc;
    }
  }
  return y;
}

Matrix Norm(const Matrix& x, const std::vector<float>& g,
            const std::vector<float>& b) {
  Matrix y = x;
  for (auto& row : y) {
    double mean = 0, var = 0;
    for (double v : row) mean += v;
    mean /= row.size();
    for (double v : row) var += (v - mean) * (v - mean);
    var /= row.size();
    for (size_t i = 0; i < row.size(); ++i) {
      row[i] = (row[i] - mean) / std::sqrt(var + 1e-5) * g[i] + b[i];
    }
  }
  return y;
}

}  // namespace

std::vector<double> NaiveLogits(
    const TinyShape& s, const std::map<std::string, std::vector<float>>& w,
    const std::vector<int>& tokens) {
  const int e = s.embd, d = e / s.heads, n = static_cast<int>(tokens.size());
  Matrix x(n, std::vector<double>(e));
  for (int t = 0; t < n; ++t) {
    for (int i = 0; i < e; ++i) {
      x[t][i] = w.at("wte.weight")[size_t(tokens[t]) * e + i] +
                w.at("wpe.weight")[size_t(t) * e + i];
    }
  }
  for (int l = 0; l < s.layers; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    const Matrix qkv = Linear(
        Norm(x, w.at(h + "ln_1.weight"), w.at(h + "ln_1.bias")),
        w.at(h + "attn.c_attn.weight"), w.at(h + "attn.c_attn.bias"), e, 3 * e);
    Matrix attn(n, std::vector<double>(e, 0.0));
    for (int head = 0; head < s.heads; ++head) {
      for (int t = 0; t < n; ++t) {
        std::vector<double> p(t + 1);
        double max_score = -1e300, sum = 0;
        for (int j = 0; j <= t; ++j) {
          double dot = 0;
          for (int i = 0; i < d; ++i) {
            dot += qkv[t][head * d + i] * qkv[j][e + head * d + i];
          }
          p[j] = dot / std::sqrt(double(d));
          max_score = std::max(max_score, p[j]);
        }
        for (double& v : p) sum += (v = std::exp(v - max_score));
        for (int j = 0; j <= t; ++j) {
          for (int i = 0; i < d; ++i) {
            attn[t][head * d + i] += p[j] / sum * qkv[j][2 * e + head * d + i];
          }
        }
      }
    }
    const Matrix proj = Linear(attn, w.at(h + "attn.c_proj.weight"),
                               w.at(h + "attn.c_proj.bias"), e, e);
    for (int t = 0; t < n; ++t) {
      for (int i = 0; i < e; ++i) x[t][i] += proj[t][i];
    }
    Matrix fc = Linear(Norm(x, w.at(h + "ln_2.weight"), w.at(h + "ln_2.bias")),
                       w.at(h + "mlp.c_fc.weight"), w.at(h + "mlp.c_fc.bias"),
                       e, 4 * e);
    for (auto& row : fc) {
      for (double& v : row) {
        v = 0.5 * v *
            (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
      }
    }
    const Matrix out = Linear(fc, w.at(h + "mlp.c_proj.weight"),
                              w.at(h + "mlp.c_proj.bias"), 4 * e, e);
    for (int t = 0; t < n; ++t) {
      for (int i = 0; i < e; ++i) x[t][i] += out[t][i];
    }
  }
  const Matrix final_norm = Norm(x, w.at("ln_f.weight"), w.at("ln_f.bias"));
  std::vector<double> logits(s.vocab);
  for (int v = 0; v < s.vocab; ++v) {
    double acc = 0;
    for (int i = 0; i < e; ++i) {
      acc += final_norm[n - 1][i] * w.at("wte.weight")[size_t(v) * e + i];
    }
    logits[v] = acc;
  }
  return logits;
}

}  // namespace fxserve::model::testing
