// The Prometheus metrics of LLM serving, registered once per server and
// bound per model instance to the labels {model, backend, instance}. Names
// follow Prometheus conventions (base units, `_total` counters) so `promtool
// check metrics` accepts them; docs/metrics in server/README.md.
#ifndef FXSERVE_SERVER_LLM_LLM_METRICS_H_
#define FXSERVE_SERVER_LLM_LLM_METRICS_H_

#include <string>

#include "server/metrics/metrics.h"

namespace fxserve::server::llm {

// One model's metrics; references into the registry, which outlives them.
struct LlmMetrics {
  Counter* request_success = nullptr;
  // Failures by reason (the status code, e.g. "cancelled").
  Family<Counter>* request_failure = nullptr;
  LabelValues labels;  // {model, backend, instance}
  Counter* prompt_tokens = nullptr;
  Counter* generated_tokens = nullptr;
  Counter* steps = nullptr;
  Histogram* queue_duration = nullptr;
  Histogram* prefill_duration = nullptr;
  Histogram* decode_duration = nullptr;
  Histogram* request_duration = nullptr;
  Histogram* time_to_first_token = nullptr;
  Histogram* inter_token_latency = nullptr;
  Histogram* batch_size = nullptr;
  Histogram* step_duration = nullptr;
  Gauge* pending_requests = nullptr;
  Gauge* running_requests = nullptr;
  Gauge* kv_blocks_used = nullptr;
  Gauge* kv_blocks_total = nullptr;
  Gauge* kv_usage_ratio = nullptr;

  void CountFailure(const std::string& reason) const;
};

// Registers the LLM metric families in `registry` (once per server).
class LlmMetricFamilies {
 public:
  explicit LlmMetricFamilies(MetricsRegistry& registry);
  // `instance` names one of the model's instances ("cpu_0", "fpga_1").
  LlmMetrics ForInstance(const std::string& model, const std::string& backend,
                         const std::string& instance);

 private:
  Family<Counter>& request_success_;
  Family<Counter>& request_failure_;
  Family<Counter>& prompt_tokens_;
  Family<Counter>& generated_tokens_;
  Family<Counter>& steps_;
  Family<Histogram>& queue_duration_;
  Family<Histogram>& prefill_duration_;
  Family<Histogram>& decode_duration_;
  Family<Histogram>& request_duration_;
  Family<Histogram>& time_to_first_token_;
  Family<Histogram>& inter_token_latency_;
  Family<Histogram>& batch_size_;
  Family<Histogram>& step_duration_;
  Family<Gauge>& pending_requests_;
  Family<Gauge>& running_requests_;
  Family<Gauge>& kv_blocks_used_;
  Family<Gauge>& kv_blocks_total_;
  Family<Gauge>& kv_usage_ratio_;
};

}  // namespace fxserve::server::llm

#endif  // FXSERVE_SERVER_LLM_LLM_METRICS_H_
