#include "tools/fxtool/model_commands.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "model/sampler.h"
#include "model/tokenizer/gpt2_tokenizer.h"
#include "tools/fxtool/loaded_model.h"
#include "tools/fxtool/npy.h"

ABSL_FLAG(std::string, model, FXSERVE_DEFAULT_MODEL_DIR,
          "Model folder: Hugging Face GPT-2 layout (config.json + "
          "model.safetensors, run by the float reference) or a quantized "
          "fxserve artifact from 'fxtool quantize' (run by the kernels in "
          "C-simulation). Defaults to the shipped tiny model.");
ABSL_FLAG(std::string, backend, "cpu",
          "Where a quantized artifact runs: cpu (fast, bit-exact), csim (the "
          "HLS kernels in C-simulation: the golden model, slow) or fpga.");
ABSL_FLAG(int, max_tokens, 64, "generate: tokens to generate at most.");
ABSL_FLAG(float, temperature, 0.8f,
          "generate: sampling temperature; 0 = greedy.");
ABSL_FLAG(int, top_k, 40,
          "generate: sample from the k likeliest tokens; 0 = all.");
ABSL_FLAG(float, top_p, 1.0f, "generate: nucleus sampling mass; 1 = off.");
ABSL_FLAG(uint64_t, seed, 0, "generate: random seed (same seed, same text).");
ABSL_FLAG(std::string, prompt, "", "logits: the prompt text.");
ABSL_FLAG(std::string, tokens, "",
          "logits: token ids separated by spaces (instead of --prompt).");
ABSL_FLAG(std::string, out, "",
          "logits: write a float32 .npy file here; quantize: the artifact "
          "folder to write.");
ABSL_FLAG(int, eval_tokens, 0,
          "perplexity: score only the first N tokens of the file; 0 = all.");

namespace fxserve::fxtool {
namespace {

using model::Gpt2Tokenizer;

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "fxtool: %s\n", std::string(status.message()).c_str());
  return 1;
}

int Usage(const char* text) {
  std::fprintf(stderr, "fxtool: %s\n", text);
  return 2;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Gpt2Tokenizer>> LoadTokenizer(
    const std::string& model_dir) {
  for (const char* name : {"/vocab.json", "/encoder.json"}) {
    if (std::ifstream(model_dir + name)) {
      return Gpt2Tokenizer::LoadFromDir(model_dir);
    }
  }
  const char* env = std::getenv("FXSERVE_TOKENIZER_DIR");
  return Gpt2Tokenizer::LoadFromDir(
      env != nullptr ? env : FXSERVE_GPT2_TOKENIZER_DIR);
}

namespace {

absl::StatusOr<std::unique_ptr<LoadedModel>> LoadModel() {
  return LoadModelDir(absl::GetFlag(FLAGS_model), absl::GetFlag(FLAGS_backend));
}

}  // namespace

int RunTokenize(const std::vector<std::string>& args) {
  if (args.size() != 1)
    return Usage("usage: fxtool tokenize [--model DIR] \"text\"");
  auto tokenizer = LoadTokenizer(absl::GetFlag(FLAGS_model));
  if (!tokenizer.ok()) return Fail(tokenizer.status());
  const std::vector<int> ids = (*tokenizer)->Encode(args[0]);
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    absl::StrAppend(&line, i == 0 ? "" : " ", ids[i]);
  }
  std::printf("%s\n", line.c_str());
  return 0;
}

int RunGenerate(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    return Usage(
        "usage: fxtool generate [--model DIR] [--max-tokens N] "
        "[--temperature T] [--top-k K] [--top-p P] [--seed S] \"prompt\"");
  }
  const model::SamplingOptions options{
      .temperature = absl::GetFlag(FLAGS_temperature),
      .top_k = absl::GetFlag(FLAGS_top_k),
      .top_p = absl::GetFlag(FLAGS_top_p),
      .seed = absl::GetFlag(FLAGS_seed)};
  if (absl::Status s = options.Validate(); !s.ok()) return Fail(s);
  const int max_tokens = absl::GetFlag(FLAGS_max_tokens);
  if (max_tokens < 0) return Usage("--max-tokens must be >= 0");

  auto tokenizer = LoadTokenizer(absl::GetFlag(FLAGS_model));
  if (!tokenizer.ok()) return Fail(tokenizer.status());
  auto model = LoadModel();
  if (!model.ok()) return Fail(model.status());
  std::vector<int> prompt = (*tokenizer)->Encode(args[0]);
  if (prompt.empty()) prompt.push_back(Gpt2Tokenizer::kEndOfText);
  const int context = (*model)->config().n_positions;
  if (static_cast<int>(prompt.size()) >= context) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "the prompt has ", prompt.size(), " tokens; this model's context is ",
        context, " (leave room for at least one new token)")));
  }

  LoadedModel& lm = **model;
  model::Sampler sampler(options);
  std::printf("%s", args[0].c_str());
  std::fflush(stdout);
  std::vector<int> step = prompt;
  std::vector<int> generated;
  std::string printed;
  for (int i = 0; i < max_tokens && lm.length() + 1 <= context; ++i) {
    const auto logits = lm.Forward(step, /*all_positions=*/false);
    if (!logits.ok()) return Fail(logits.status());
    const int next = sampler.Sample(*logits);
    if (next == Gpt2Tokenizer::kEndOfText) break;
    generated.push_back(next);
    // Print what the new token adds (a token may end mid-character).
    const auto text = (*tokenizer)->Decode(generated);
    if (!text.ok()) return Fail(text.status());
    std::printf("%s", text->substr(printed.size()).c_str());
    std::fflush(stdout);
    printed = *text;
    step = {next};
    if (lm.length() >= context) break;
  }
  std::printf("\n");
  return 0;
}

int RunLogits(const std::vector<std::string>& args) {
  const std::string prompt = absl::GetFlag(FLAGS_prompt);
  const std::string token_text = absl::GetFlag(FLAGS_tokens);
  if (!args.empty() || prompt.empty() == token_text.empty()) {
    return Usage(
        "usage: fxtool logits [--model DIR] (--prompt \"text\" | --tokens "
        "\"ids separated by spaces\") [--out FILE.npy]");
  }
  std::vector<int> ids;
  if (!token_text.empty()) {
    for (absl::string_view piece :
         absl::StrSplit(token_text, ' ', absl::SkipEmpty())) {
      int id = 0;
      if (!absl::SimpleAtoi(piece, &id)) {
        return Fail(absl::InvalidArgumentError(absl::StrCat(
            "--tokens: '", std::string(piece), "' is not a token id")));
      }
      ids.push_back(id);
    }
  } else {
    auto tokenizer = LoadTokenizer(absl::GetFlag(FLAGS_model));
    if (!tokenizer.ok()) return Fail(tokenizer.status());
    ids = (*tokenizer)->Encode(prompt);
  }
  if (ids.empty()) return Fail(absl::InvalidArgumentError("no tokens given"));
  auto model = LoadModel();
  if (!model.ok()) return Fail(model.status());
  const auto logits = (*model)->Forward(ids, /*all_positions=*/false);
  if (!logits.ok()) return Fail(logits.status());

  const std::string out = absl::GetFlag(FLAGS_out);
  if (!out.empty()) {
    if (absl::Status s = WriteNpyFloat32(out, *logits); !s.ok()) return Fail(s);
    return 0;
  }
  std::string line;
  char buf[32];
  for (size_t i = 0; i < logits->size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%.9g", i == 0 ? "" : " ", (*logits)[i]);
    line += buf;
  }
  std::printf("%s\n", line.c_str());
  return 0;
}

int RunPerplexity(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    return Usage("usage: fxtool perplexity [--model DIR] FILE");
  }
  std::ifstream in(args[0], std::ios::binary);
  if (!in) {
    return Fail(absl::NotFoundError(absl::StrCat("cannot open ", args[0])));
  }
  std::stringstream text;
  text << in.rdbuf();
  auto tokenizer = LoadTokenizer(absl::GetFlag(FLAGS_model));
  if (!tokenizer.ok()) return Fail(tokenizer.status());
  auto model = LoadModel();
  if (!model.ok()) return Fail(model.status());
  std::vector<int> ids = (*tokenizer)->Encode(text.str());
  const int eval_tokens = absl::GetFlag(FLAGS_eval_tokens);
  if (eval_tokens < 0) return Usage("--eval-tokens must be >= 0");
  if (eval_tokens > 0 && static_cast<int>(ids.size()) > eval_tokens) {
    ids.resize(eval_tokens);
  }
  if (ids.size() < 2) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat(args[0], " has fewer than 2 tokens")));
  }
  // Windows of the full context, advancing by half of it: every token after
  // the first is predicted once, with at least half a context before it
  // (except in the first window).
  const int context = (*model)->config().n_positions;
  const int stride = context / 2 > 0 ? context / 2 : 1;
  const int vocab = (*model)->config().vocab_size;
  const int total = static_cast<int>(ids.size());
  double nll = 0;
  int scored = 0, windows = 0;
  const absl::Time start = absl::Now();
  for (int begin = 0; scored < total - 1; begin += stride) {
    const int end = std::min(begin + context, total);
    const int first_target = begin == 0 ? 1 : begin + context - stride;
    (*model)->Reset();
    const auto logits =
        (*model)->Forward(absl::MakeConstSpan(ids).subspan(begin, end - begin),
                          /*all_positions=*/true);
    if (!logits.ok()) return Fail(logits.status());
    for (int t = std::max(first_target, begin + 1); t < end; ++t) {
      const float* row =
          logits->data() + static_cast<size_t>(t - 1 - begin) * vocab;
      double max_logit = row[0];
      for (int v = 1; v < vocab; ++v)
        max_logit = std::max<double>(max_logit, row[v]);
      double sum = 0;
      for (int v = 0; v < vocab; ++v) sum += std::exp(row[v] - max_logit);
      nll += std::log(sum) + max_logit - row[ids[t]];
      ++scored;
    }
    ++windows;
    std::fprintf(stderr, "\rperplexity: %d/%d tokens scored", scored,
                 total - 1);
    if (end == total) break;
  }
  std::fprintf(stderr, "\n");
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf("perplexity %.4f over %d tokens (%d windows of %d, %.1f s, %s)\n",
              std::exp(nll / scored), scored, windows, context, seconds,
              (*model)->Describe().c_str());
  return 0;
}

}  // namespace fxserve::fxtool
