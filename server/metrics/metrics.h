// Prometheus metrics: counters, gauges and histograms with labels, and
// their text exposition (format 0.0.4), which /metrics serves. Written by
// hand because prometheus-cpp is not packaged for Debian bookworm; only
// what the server needs. Thread-safe: any thread may update a metric or
// take a snapshot while others update.
#ifndef FXSERVE_SERVER_METRICS_METRICS_H_
#define FXSERVE_SERVER_METRICS_METRICS_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace fxserve::server {

// Label values in the order of the family's label names.
using LabelValues = std::vector<std::string>;

class Counter {
 public:
  void Increment(double amount = 1.0);
  double value() const;

 private:
  mutable absl::Mutex mu_;
  double value_ ABSL_GUARDED_BY(mu_) = 0;
};

class Gauge {
 public:
  void Set(double value);
  void Add(double amount);
  double value() const;

 private:
  mutable absl::Mutex mu_;
  double value_ ABSL_GUARDED_BY(mu_) = 0;
};

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, strictly increasing (+Inf is
  // implicit).
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // Per bound, then +Inf.
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Take() const;

 private:
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::vector<uint64_t> counts_ ABSL_GUARDED_BY(mu_);  // Per bucket, +Inf last.
  double sum_ ABSL_GUARDED_BY(mu_) = 0;
};

// A metric name with its help text, label names and one child per label
// value combination. Children live as long as the registry.
template <class Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> labels,
         std::vector<double> bounds = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        labels_(std::move(labels)),
        bounds_(std::move(bounds)) {}

  // The child for these label values (created on first use). The number
  // of values must equal the number of label names.
  Metric& With(const LabelValues& values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& labels() const { return labels_; }
  // Children in label-value order.
  std::vector<std::pair<LabelValues, const Metric*>> Children() const;

 private:
  std::string name_, help_;
  std::vector<std::string> labels_;
  std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::map<LabelValues, std::unique_ptr<Metric>> children_ ABSL_GUARDED_BY(mu_);
};

class MetricsRegistry {
 public:
  // Names must be valid Prometheus metric names and unique in the
  // registry; counters should end in "_total". The returned family lives
  // as long as the registry.
  Family<Counter>& AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> labels);
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> labels);
  Family<Histogram>& AddHistogram(const std::string& name,
                                  const std::string& help,
                                  std::vector<std::string> labels,
                                  std::vector<double> bounds);

  // Every metric in the text exposition format, families in the order they
  // were added.
  std::string ExpositionText() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Family<Counter>>> counters_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_
      ABSL_GUARDED_BY(mu_);
  // (kind, index) in the order added: 0 counter, 1 gauge, 2 histogram.
  std::vector<std::pair<int, size_t>> order_ ABSL_GUARDED_BY(mu_);
};

// A label value escaped for the exposition format (\\, \", \n).
std::string EscapeLabelValue(const std::string& value);
// A sample value as the format writes it: integers without a fraction,
// +Inf / -Inf / NaN spelled out.
std::string FormatSampleValue(double value);

}  // namespace fxserve::server

#endif  // FXSERVE_SERVER_METRICS_METRICS_H_
