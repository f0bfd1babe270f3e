// fxclient: talks to a running fxserve over gRPC (see kUsage). Flags may be
// written --max-tokens or --max_tokens, before or after the command.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "clients/cpp/bench.h"
#include "clients/cpp/inference_client.h"

ABSL_FLAG(std::string, url, "127.0.0.1:8001", "Server address, HOST:PORT.");
ABSL_FLAG(std::string, token_file, "",
          "File holding a bearer token, sent as 'authorization: Bearer' on "
          "every call.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM file of root certificates: connect with TLS (else plaintext).");
ABSL_FLAG(int64_t, timeout_ms, 0,
          "Deadline of every call in milliseconds; 0 = none for generate and "
          "30 s for health and metadata.");
ABSL_FLAG(bool, stream, false,
          "generate: stream the text piece by piece (ModelStreamInfer).");
ABSL_FLAG(std::string, model, "tiny-gpt2",
          "generate, bench: the model to run.");
ABSL_FLAG(std::optional<int>, max_tokens, std::nullopt,
          "generate, bench: tokens to generate at most (default: the "
          "server's for generate, 32 for bench).");
ABSL_FLAG(std::optional<float>, temperature, std::nullopt,
          "generate, bench: sampling temperature; 0 = greedy.");
ABSL_FLAG(std::optional<int>, top_k, std::nullopt,
          "generate, bench: sample from the k likeliest tokens; 0 = all.");
ABSL_FLAG(std::optional<float>, top_p, std::nullopt,
          "generate, bench: nucleus sampling mass; 1 = off.");
ABSL_FLAG(std::optional<uint64_t>, seed, std::nullopt,
          "generate: random seed (same seed, same text); bench: base seed, "
          "request i uses seed + i (default 0).");
ABSL_FLAG(std::string, request_id, "",
          "generate: request id, echoed by the server in its responses.");
ABSL_FLAG(int, concurrency, 16,
          "bench: clients (one channel and thread each) sending at once.");
ABSL_FLAG(int64_t, requests, 128, "bench: requests to send in all.");
ABSL_FLAG(std::string, prompt, "Once upon a time",
          "bench: the prompt; request i sends it + \" i\" unless "
          "--prompt-fixed.");
ABSL_FLAG(bool, prompt_fixed, false,
          "bench: send --prompt unchanged in every request.");
ABSL_FLAG(double, duration_s, 0,
          "bench: stop starting requests after this many seconds; 0 = no "
          "limit but --requests.");
ABSL_FLAG(bool, json, false, "bench: print the summary as one JSON object.");

namespace {

using fxserve::client::BenchOptions;
using fxserve::client::BenchSummary;
using fxserve::client::ClientOptions;
using fxserve::client::FormatSummaryJson;
using fxserve::client::FormatSummaryText;
using fxserve::client::GenerateOptions;
using fxserve::client::InferenceClient;
using fxserve::client::RunBench;

constexpr char kUsageLine[] =
    "Usage: fxclient [--url HOST:PORT] [--token-file F] [--tls-ca F] "
    "[--timeout-ms N] COMMAND ...";

constexpr char kUsage[] =
    "fxclient: a command-line client for fxserve's gRPC API.\n"
    "\n"
    "Usage: fxclient [--url HOST:PORT] [--token-file F] [--tls-ca F]\n"
    "                [--timeout-ms N] COMMAND ...\n"
    "\n"
    "Commands:\n"
    "  health [MODEL]    Server liveness and readiness, and the gRPC health\n"
    "                    status of the server (or of MODEL). Exits 0 only\n"
    "                    when SERVING.\n"
    "  metadata [MODEL]  Server metadata, or MODEL's inputs and outputs.\n"
    "  generate [--stream] [--model M] [--max-tokens N] [--temperature T]\n"
    "           [--top-k K] [--top-p P] [--seed S] [--request-id ID] "
    "\"prompt\"\n"
    "                    Generate text from the prompt and print it;\n"
    "                    --stream prints the pieces as they arrive.\n"
    "  bench [--concurrency 16] [--requests 128] [--max-tokens 32]\n"
    "        [--model M] [--prompt P] [--prompt-fixed] [--seed S]\n"
    "        [--duration-s N] [--json]\n"
    "                    Load test: --concurrency clients (one channel\n"
    "                    each) run streamed generations back to back until\n"
    "                    --requests were sent (or --duration-s passed).\n"
    "                    Request i uses seed S+i and prompt P+\" i\". Prints\n"
    "                    progress to stderr, then ok/failed, req/s,\n"
    "                    pieces/s (pieces ~ tokens) and TTFT, inter-piece\n"
    "                    and end-to-end latency percentiles in ms (or one\n"
    "                    JSON object with --json). Exits 1 if any request\n"
    "                    failed. --temperature, --top-k and --top-p are\n"
    "                    sent as given.\n"
    "\n"
    "Global flags:\n"
    "  --url HOST:PORT   Server address (default 127.0.0.1:8001).\n"
    "  --token-file F    Send the bearer token in F on every call.\n"
    "  --tls-ca F        Use TLS, trusting the PEM root certificates in F.\n"
    "  --timeout-ms N    Deadline of every call; 0 (default) = none for\n"
    "                    generate and bench requests, 30 s for health\n"
    "                    and metadata.\n"
    "\n"
    "Put '--' before a prompt that starts with '--'. Exit status: 0 success,\n"
    "1 error (printed as 'fxclient: CODE: message'), 2 usage error.";

// A command-line mistake: printed with the usage line, and fxclient exits 2.
struct UsageError {
  std::string message;
};

// Parses every --flag[=value] (dashes or underscores) into the absl flags
// and collects the other arguments in `positional`. Done by hand rather than
// with
// absl::ParseCommandLine, which exits 1 on a bad flag: usage errors exit 2.
std::optional<UsageError> ParseArguments(int argc, char** argv,
                                         std::vector<std::string>& positional) {
  bool only_positional = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (only_positional || arg.rfind("--", 0) != 0) {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    const size_t equals = arg.find('=');
    std::string name = arg.substr(
        2, equals == std::string::npos ? std::string::npos : equals - 2);
    for (char& c : name) {
      if (c == '-') c = '_';
    }
    std::optional<std::string> value;
    if (equals != std::string::npos) value = arg.substr(equals + 1);
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    // --nostream, as absl spells a false boolean.
    if (flag == nullptr && name.rfind("no", 0) == 0 && !value.has_value()) {
      absl::CommandLineFlag* negated =
          absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) {
        flag = negated;
        value = "false";
      }
    }
    if (flag == nullptr) {
      return UsageError{absl::StrCat("unknown flag ", arg.substr(0, equals))};
    }
    if (!value.has_value()) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return UsageError{absl::StrCat("flag ", arg, " needs a value")};
      }
    }
    std::string error;
    if (!flag->ParseFrom(*value, &error)) {
      return UsageError{absl::StrCat("bad value '", *value, "' for ",
                                     arg.substr(0, equals), ": ", error)};
    }
  }
  return std::nullopt;
}

// Prints the error as "fxclient: CODE: message" and returns exit status 1.
int Fail(const absl::Status& status) {
  std::fprintf(stderr, "fxclient: %s: %s\n",
               absl::StatusCodeToString(status.code()).c_str(),
               std::string(status.message()).c_str());
  if (status.code() == absl::StatusCode::kUnavailable) {
    std::fprintf(stderr, "fxclient: is fxserve running at %s? (see --url)\n",
                 absl::GetFlag(FLAGS_url).c_str());
  }
  return 1;
}

absl::StatusOr<std::string> ReadToken(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the token file '", path, "'"));
  }
  std::ostringstream contents;
  contents << file.rdbuf();
  // Token files usually end with a newline, which metadata cannot carry.
  std::string token(absl::StripAsciiWhitespace(contents.str()));
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the token file '", path, "' is empty"));
  }
  return token;
}

absl::StatusOr<ClientOptions> ClientOptionsFromFlags() {
  ClientOptions options;
  options.url = absl::GetFlag(FLAGS_url);
  options.tls_ca_file = absl::GetFlag(FLAGS_tls_ca);
  const std::string token_file = absl::GetFlag(FLAGS_token_file);
  if (!token_file.empty()) {
    absl::StatusOr<std::string> token = ReadToken(token_file);
    if (!token.ok()) return token.status();
    options.bearer_token = *std::move(token);
  }
  if (const int64_t ms = absl::GetFlag(FLAGS_timeout_ms); ms > 0) {
    options.default_timeout = absl::Milliseconds(ms);
  }
  return options;
}

absl::StatusOr<std::unique_ptr<InferenceClient>> CreateClient() {
  absl::StatusOr<ClientOptions> options = ClientOptionsFromFlags();
  if (!options.ok()) return options.status();
  return InferenceClient::Create(*options);
}

const char* YesNo(bool value) { return value ? "yes" : "no"; }

// health [MODEL]
int RunHealth(const InferenceClient& client, const std::string& model) {
  absl::StatusOr<bool> live = client.ServerLive();
  if (!live.ok()) return Fail(live.status());
  absl::StatusOr<bool> ready = client.ServerReady();
  if (!ready.ok()) return Fail(ready.status());
  std::printf("server live: %s\nserver ready: %s\n", YesNo(*live),
              YesNo(*ready));
  if (!model.empty()) {
    absl::StatusOr<bool> model_ready = client.ModelReady(model);
    if (!model_ready.ok()) return Fail(model_ready.status());
    std::printf("model %s ready: %s\n", model.c_str(), YesNo(*model_ready));
  }
  absl::StatusOr<std::string> health = client.HealthCheck(model);
  if (!health.ok()) return Fail(health.status());
  std::printf("health (%s): %s\n", model.empty() ? "server" : model.c_str(),
              health->c_str());
  return *health == "SERVING" ? 0 : 1;
}

std::string FormatShape(const google::protobuf::RepeatedField<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

void PrintTensors(
    const char* title,
    const google::protobuf::RepeatedPtrField<
        inference::ModelMetadataResponse::TensorMetadata>& tensors) {
  std::printf("%s:\n", title);
  if (tensors.empty()) std::printf("  (none)\n");
  for (const auto& tensor : tensors) {
    std::printf("  %-16s %-6s %s\n", tensor.name().c_str(),
                tensor.datatype().c_str(), FormatShape(tensor.shape()).c_str());
  }
}

// metadata [MODEL]
int RunMetadata(const InferenceClient& client, const std::string& model) {
  if (model.empty()) {
    absl::StatusOr<inference::ServerMetadataResponse> metadata =
        client.ServerMetadata();
    if (!metadata.ok()) return Fail(metadata.status());
    std::printf("server: %s\nversion: %s\nextensions: %s\n",
                metadata->name().c_str(), metadata->version().c_str(),
                metadata->extensions().empty()
                    ? "(none)"
                    : absl::StrJoin(metadata->extensions(), ", ").c_str());
    return 0;
  }
  absl::StatusOr<inference::ModelMetadataResponse> metadata =
      client.ModelMetadata(model);
  if (!metadata.ok()) return Fail(metadata.status());
  std::printf("model: %s\nversions: %s\nplatform: %s\n",
              metadata->name().c_str(),
              absl::StrJoin(metadata->versions(), ", ").c_str(),
              metadata->platform().c_str());
  PrintTensors("inputs", metadata->inputs());
  PrintTensors("outputs", metadata->outputs());
  return 0;
}

// generate [flags] "prompt"
int RunGenerate(const InferenceClient& client, const std::string& prompt) {
  GenerateOptions options;
  options.model = absl::GetFlag(FLAGS_model);
  options.max_tokens = absl::GetFlag(FLAGS_max_tokens);
  options.temperature = absl::GetFlag(FLAGS_temperature);
  options.top_k = absl::GetFlag(FLAGS_top_k);
  options.top_p = absl::GetFlag(FLAGS_top_p);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.request_id = absl::GetFlag(FLAGS_request_id);
  if (const int64_t ms = absl::GetFlag(FLAGS_timeout_ms); ms > 0) {
    options.timeout = absl::Milliseconds(ms);
  }
  if (!absl::GetFlag(FLAGS_stream)) {
    absl::StatusOr<std::string> text = client.Generate(prompt, options);
    if (!text.ok()) return Fail(text.status());
    std::printf("%s\n", text->c_str());
    return 0;
  }
  bool printed = false;
  absl::StatusOr<std::string> text =
      client.GenerateStream(prompt, options, [&](std::string_view piece) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
        printed = true;
        return true;
      });
  // End the partial line so that an error message starts on its own line.
  if (text.ok() || printed) std::printf("\n");
  if (!text.ok()) return Fail(text.status());
  return 0;
}

// The bench options from the flags, except `client`; a usage error when a
// value is out of range.
std::variant<BenchOptions, UsageError> BenchOptionsFromFlags() {
  BenchOptions options;
  options.generate.model = absl::GetFlag(FLAGS_model);
  options.generate.max_tokens = absl::GetFlag(FLAGS_max_tokens).value_or(32);
  options.generate.temperature = absl::GetFlag(FLAGS_temperature);
  options.generate.top_k = absl::GetFlag(FLAGS_top_k);
  options.generate.top_p = absl::GetFlag(FLAGS_top_p);
  if (const int64_t ms = absl::GetFlag(FLAGS_timeout_ms); ms > 0) {
    options.generate.timeout = absl::Milliseconds(ms);
  }
  options.concurrency = absl::GetFlag(FLAGS_concurrency);
  options.requests = absl::GetFlag(FLAGS_requests);
  options.prompt = absl::GetFlag(FLAGS_prompt);
  options.prompt_fixed = absl::GetFlag(FLAGS_prompt_fixed);
  options.seed = absl::GetFlag(FLAGS_seed).value_or(0);
  const double duration_s = absl::GetFlag(FLAGS_duration_s);
  // !(>= 0) also catches NaN.
  if (!(duration_s >= 0) || std::isinf(duration_s)) {
    return UsageError{"--duration-s must be 0 (no limit) or positive"};
  }
  if (duration_s > 0) options.duration = absl::Seconds(duration_s);
  if (absl::Status status = options.Validate(); !status.ok()) {
    return UsageError{std::string(status.message())};
  }
  return options;
}

// bench [flags]
int RunBenchCommand(BenchOptions options) {
  absl::StatusOr<ClientOptions> client = ClientOptionsFromFlags();
  if (!client.ok()) return Fail(client.status());
  options.client = *std::move(client);
  absl::StatusOr<BenchSummary> summary = RunBench(
      options,
      [](int64_t done, int64_t failed, int64_t total, absl::Duration elapsed) {
        std::fprintf(
            stderr, "fxclient bench: %lld/%lld done, %lld failed, %.1f s\n",
            static_cast<long long>(done), static_cast<long long>(total),
            static_cast<long long>(failed), absl::ToDoubleSeconds(elapsed));
      });
  if (!summary.ok()) return Fail(summary.status());
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", FormatSummaryJson(*summary, options).c_str());
  } else {
    std::printf("%s", FormatSummaryText(*summary, options).c_str());
  }
  return summary->failed > 0 ? 1 : 0;
}

int Usage(const std::string& message) {
  std::fprintf(stderr,
               "fxclient: %s\n%s\nRun 'fxclient --help' for the commands.\n",
               message.c_str(), kUsageLine);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-h") {
      std::printf("%s\n", kUsage);
      return 0;
    }
  }
  std::vector<std::string> args;
  if (std::optional<UsageError> error = ParseArguments(argc, argv, args)) {
    return Usage(error->message);
  }
  if (args.empty()) return Usage("no command given");
  if (args[0] == "help") {
    std::printf("%s\n", kUsage);
    return 0;
  }
  if (absl::GetFlag(FLAGS_timeout_ms) < 0) {
    return Usage("--timeout-ms must be 0 (none) or positive");
  }
  const std::string& command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  // Check the arguments before connecting, so usage errors come first.
  if (command == "health" || command == "metadata") {
    if (rest.size() > 1) {
      return Usage(absl::StrCat(command, " takes at most one MODEL argument"));
    }
  } else if (command == "generate") {
    if (rest.size() != 1) {
      return Usage(
          "generate takes exactly one prompt argument (quote it; put '--' "
          "before a prompt that starts with '--')");
    }
  } else if (command == "bench") {
    if (!rest.empty()) {
      return Usage(absl::StrCat("bench takes no arguments (got '", rest[0],
                                "'); give the prompt with --prompt"));
    }
    std::variant<BenchOptions, UsageError> options = BenchOptionsFromFlags();
    if (auto* error = std::get_if<UsageError>(&options)) {
      return Usage(error->message);
    }
    return RunBenchCommand(std::get<BenchOptions>(std::move(options)));
  } else {
    return Usage(absl::StrCat("unknown command '", command, "'"));
  }

  absl::StatusOr<std::unique_ptr<InferenceClient>> client = CreateClient();
  if (!client.ok()) return Fail(client.status());
  const std::string argument = rest.empty() ? "" : rest[0];
  if (command == "health") return RunHealth(**client, argument);
  if (command == "metadata") return RunMetadata(**client, argument);
  return RunGenerate(**client, argument);
}
