#include "server/llm/llm_metrics.h"

#include <vector>

namespace fxserve::server::llm {
namespace {

const std::vector<std::string> kLabels = {"model", "backend", "model_instance"};

// Seconds, from 1 ms to 2 min: token latencies to whole requests.
std::vector<double> SecondsBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
          0.5,   1,      2.5,   5,    10,    30,   60,  120};
}

}  // namespace

void LlmMetrics::CountFailure(const std::string& reason) const {
  request_failure->With({labels[0], labels[1], labels[2], reason}).Increment();
}

LlmMetricFamilies::LlmMetricFamilies(MetricsRegistry& registry)
    : request_success_(registry.AddCounter(
          "fxserve_request_success_total",
          "Requests that completed successfully.", kLabels)),
      request_failure_(
          registry.AddCounter("fxserve_request_failure_total",
                              "Requests that failed, by reason (status code).",
                              {"model", "backend", "model_instance", "reason"})),
      prompt_tokens_(registry.AddCounter("fxserve_prompt_tokens_total",
                                         "Prompt tokens prefilled.", kLabels)),
      generated_tokens_(registry.AddCounter("fxserve_generated_tokens_total",
                                            "Tokens generated.", kLabels)),
      steps_(registry.AddCounter("fxserve_backend_steps_total",
                                 "Backend steps run.", kLabels)),
      queue_duration_(
          registry.AddHistogram("fxserve_request_queue_duration_seconds",
                                "Time from arrival to the start of prefill.",
                                kLabels, SecondsBuckets())),
      prefill_duration_(registry.AddHistogram(
          "fxserve_request_prefill_duration_seconds",
          "Time from the start of prefill to the first token.", kLabels,
          SecondsBuckets())),
      decode_duration_(registry.AddHistogram(
          "fxserve_request_decode_duration_seconds",
          "Time from the first token to the last.", kLabels, SecondsBuckets())),
      request_duration_(registry.AddHistogram(
          "fxserve_request_duration_seconds",
          "End-to-end time from arrival to the last response.", kLabels,
          SecondsBuckets())),
      time_to_first_token_(registry.AddHistogram(
          "fxserve_time_to_first_token_seconds",
          "Time from arrival to the first generated token.", kLabels,
          SecondsBuckets())),
      inter_token_latency_(registry.AddHistogram(
          "fxserve_inter_token_latency_seconds",
          "Time between consecutive generated tokens of a request.", kLabels,
          SecondsBuckets())),
      batch_size_(registry.AddHistogram("fxserve_batch_size",
                                        "Sequences per backend step.", kLabels,
                                        {1, 2, 4, 8, 16, 32, 64, 128})),
      step_duration_(registry.AddHistogram(
          "fxserve_backend_step_duration_seconds",
          "Time of one backend step (prefill chunks and decodes).", kLabels,
          SecondsBuckets())),
      pending_requests_(registry.AddGauge("fxserve_pending_requests",
                                          "Requests waiting in the queue.",
                                          kLabels)),
      running_requests_(registry.AddGauge(
          "fxserve_running_requests",
          "Requests admitted to the batch (prefilling or decoding).", kLabels)),
      kv_blocks_used_(registry.AddGauge(
          "fxserve_kv_cache_blocks_used",
          "KV cache blocks holding a sequence's keys and values.", kLabels)),
      kv_blocks_total_(registry.AddGauge("fxserve_kv_cache_blocks",
                                         "KV cache blocks in all.", kLabels)),
      kv_usage_ratio_(registry.AddGauge(
          "fxserve_kv_cache_usage_ratio",
          "Fraction of the KV cache in use (0 to 1).", kLabels)) {}

LlmMetrics LlmMetricFamilies::ForInstance(const std::string& model,
                                          const std::string& backend,
                                          const std::string& instance) {
  const LabelValues labels = {model, backend, instance};
  return LlmMetrics{.request_success = &request_success_.With(labels),
                    .request_failure = &request_failure_,
                    .labels = labels,
                    .prompt_tokens = &prompt_tokens_.With(labels),
                    .generated_tokens = &generated_tokens_.With(labels),
                    .steps = &steps_.With(labels),
                    .queue_duration = &queue_duration_.With(labels),
                    .prefill_duration = &prefill_duration_.With(labels),
                    .decode_duration = &decode_duration_.With(labels),
                    .request_duration = &request_duration_.With(labels),
                    .time_to_first_token = &time_to_first_token_.With(labels),
                    .inter_token_latency = &inter_token_latency_.With(labels),
                    .batch_size = &batch_size_.With(labels),
                    .step_duration = &step_duration_.With(labels),
                    .pending_requests = &pending_requests_.With(labels),
                    .running_requests = &running_requests_.With(labels),
                    .kv_blocks_used = &kv_blocks_used_.With(labels),
                    .kv_blocks_total = &kv_blocks_total_.With(labels),
                    .kv_usage_ratio = &kv_usage_ratio_.With(labels)};
}

}  // namespace fxserve::server::llm
