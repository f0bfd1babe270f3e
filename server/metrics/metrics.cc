#include "server/metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"

namespace fxserve::server {

void Counter::Increment(double amount) {
  absl::MutexLock lock(&mu_);
  value_ += amount;
}

double Counter::value() const {
  absl::MutexLock lock(&mu_);
  return value_;
}

void Gauge::Set(double value) {
  absl::MutexLock lock(&mu_);
  value_ = value;
}

void Gauge::Add(double amount) {
  absl::MutexLock lock(&mu_);
  value_ += amount;
}

double Gauge::value() const {
  absl::MutexLock lock(&mu_);
  return value_;
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  // First bucket whose upper bound is >= value ("le" is inclusive).
  const size_t bucket =
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  absl::MutexLock lock(&mu_);
  ++counts_[bucket];
  sum_ += value;
}

Histogram::Snapshot Histogram::Take() const {
  Snapshot s;
  s.bounds = bounds_;
  absl::MutexLock lock(&mu_);
  uint64_t running = 0;
  for (uint64_t c : counts_) {
    running += c;
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_;
  return s;
}

template <class Metric>
Metric& Family<Metric>::With(const LabelValues& values) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Metric>& child = children_[values];
  if (child == nullptr) {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      child = std::make_unique<Histogram>(bounds_);
    } else {
      child = std::make_unique<Metric>();
    }
  }
  return *child;
}

template <class Metric>
std::vector<std::pair<LabelValues, const Metric*>> Family<Metric>::Children()
    const {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<LabelValues, const Metric*>> out;
  for (const auto& [values, metric] : children_) {
    out.emplace_back(values, metric.get());
  }
  return out;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatSampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::abs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  // The shortest spelling that reads back as the same double.
  char buf[32];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

namespace {

// {a="x",b="y"} plus an optional extra label (histogram "le").
std::string LabelText(const std::vector<std::string>& names,
                      const LabelValues& values, const std::string& extra_name,
                      const std::string& extra_value) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    absl::StrAppend(&out, out.empty() ? "" : ",", names[i], "=\"",
                    EscapeLabelValue(values[i]), "\"");
  }
  if (!extra_name.empty()) {
    absl::StrAppend(&out, out.empty() ? "" : ",", extra_name, "=\"",
                    extra_value, "\"");
  }
  return out.empty() ? "" : absl::StrCat("{", out, "}");
}

// HELP text escaping: backslash and newline only.
std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

template <class Metric>
void Header(const Family<Metric>& f, const char* type, std::string& out) {
  absl::StrAppend(&out, "# HELP ", f.name(), " ", EscapeHelp(f.help()), "\n",
                  "# TYPE ", f.name(), " ", type, "\n");
}

}  // namespace

Family<Counter>& MetricsRegistry::AddCounter(const std::string& name,
                                             const std::string& help,
                                             std::vector<std::string> labels) {
  absl::MutexLock lock(&mu_);
  counters_.push_back(
      std::make_unique<Family<Counter>>(name, help, std::move(labels)));
  order_.emplace_back(0, counters_.size() - 1);
  return *counters_.back();
}

Family<Gauge>& MetricsRegistry::AddGauge(const std::string& name,
                                         const std::string& help,
                                         std::vector<std::string> labels) {
  absl::MutexLock lock(&mu_);
  gauges_.push_back(
      std::make_unique<Family<Gauge>>(name, help, std::move(labels)));
  order_.emplace_back(1, gauges_.size() - 1);
  return *gauges_.back();
}

Family<Histogram>& MetricsRegistry::AddHistogram(
    const std::string& name, const std::string& help,
    std::vector<std::string> labels, std::vector<double> bounds) {
  absl::MutexLock lock(&mu_);
  histograms_.push_back(std::make_unique<Family<Histogram>>(
      name, help, std::move(labels), std::move(bounds)));
  order_.emplace_back(2, histograms_.size() - 1);
  return *histograms_.back();
}

std::string MetricsRegistry::ExpositionText() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [kind, index] : order_) {
    if (kind == 0) {
      const Family<Counter>& f = *counters_[index];
      Header(f, "counter", out);
      for (const auto& [values, metric] : f.Children()) {
        absl::StrAppend(&out, f.name(), LabelText(f.labels(), values, "", ""),
                        " ", FormatSampleValue(metric->value()), "\n");
      }
    } else if (kind == 1) {
      const Family<Gauge>& f = *gauges_[index];
      Header(f, "gauge", out);
      for (const auto& [values, metric] : f.Children()) {
        absl::StrAppend(&out, f.name(), LabelText(f.labels(), values, "", ""),
                        " ", FormatSampleValue(metric->value()), "\n");
      }
    } else {
      const Family<Histogram>& f = *histograms_[index];
      Header(f, "histogram", out);
      for (const auto& [values, metric] : f.Children()) {
        const Histogram::Snapshot s = metric->Take();
        for (size_t b = 0; b <= s.bounds.size(); ++b) {
          const std::string le = b < s.bounds.size()
                                     ? FormatSampleValue(s.bounds[b])
                                     : std::string("+Inf");
          absl::StrAppend(&out, f.name(), "_bucket",
                          LabelText(f.labels(), values, "le", le), " ",
                          s.cumulative[b], "\n");
        }
        const std::string labels = LabelText(f.labels(), values, "", "");
        absl::StrAppend(&out, f.name(), "_sum", labels, " ",
                        FormatSampleValue(s.sum), "\n", f.name(), "_count",
                        labels, " ", s.count, "\n");
      }
    }
  }
  return out;
}

}  // namespace fxserve::server
