#include "backends/fpga/emulation/card/fault_plan.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace fxserve::backends::fpga {
namespace {

constexpr FaultKind kKinds[] = {FaultKind::kHang, FaultKind::kDie,
                                FaultKind::kError, FaultKind::kSync};

// absl's string functions take absl::string_view, not std::string_view
// (Debian builds absl with its own string_view).
using Text = absl::string_view;

absl::Status BadItem(Text item, const char* why) {
  return absl::InvalidArgumentError(absl::StrCat(
      kCardFaultEnv, ": bad item '", item, "': ", why,
      ". Expected a comma-separated list of kind@N or kind@N:kernel, kind "
      "one of hang, die, error, sync, N >= 1 (e.g. hang@3,die@2:vadd)"));
}

bool KindFromName(Text name, FaultKind* kind) {
  for (FaultKind k : kKinds) {
    if (FaultKindName(k) == name) {
      *kind = k;
      return true;
    }
  }
  return false;
}

absl::StatusOr<Fault> ParseItem(Text item) {
  const size_t at = item.find('@');
  if (at == Text::npos) return BadItem(item, "no '@'");
  Fault fault;
  if (!KindFromName(item.substr(0, at), &fault.kind)) {
    return BadItem(item, "unknown fault kind");
  }
  Text count = item.substr(at + 1);
  if (const size_t colon = count.find(':'); colon != Text::npos) {
    fault.kernel = std::string(count.substr(colon + 1));
    count = count.substr(0, colon);
    if (fault.kernel.empty()) return BadItem(item, "empty kernel name");
  }
  // SimpleAtoi would take a sign or blanks; N is plain digits.
  const bool digits =
      !count.empty() && count.find_first_not_of("0123456789") == Text::npos;
  if (!digits || !absl::SimpleAtoi(count, &fault.start) || fault.start == 0) {
    return BadItem(item, "N must be a whole number >= 1");
  }
  return fault;
}

}  // namespace

const char* FaultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kHang:
      return "hang";
    case FaultKind::kDie:
      return "die";
    case FaultKind::kError:
      return "error";
    case FaultKind::kSync:
      return "sync";
  }
  return "unknown";
}

absl::StatusOr<FaultPlan> FaultPlan::Parse(std::string_view spec_view) {
  const Text spec(spec_view.data(), spec_view.size());
  FaultPlan plan;
  if (absl::StripAsciiWhitespace(spec).empty()) return plan;
  for (Text item : absl::StrSplit(spec, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) return BadItem(spec, "an empty item (a stray comma?)");
    absl::StatusOr<Fault> fault = ParseItem(item);
    if (!fault.ok()) return fault.status();
    plan.faults_.push_back(*std::move(fault));
  }
  return plan;
}

absl::StatusOr<FaultPlan> FaultPlan::FromEnvironment() {
  const char* spec = std::getenv(kCardFaultEnv);
  if (spec == nullptr) return FaultPlan();
  absl::StatusOr<FaultPlan> plan = Parse(spec);
  if (!plan.ok()) return plan;
  if (const char* once = std::getenv(kCardFaultOnceEnv)) {
    // The first card to create the file takes the faults; later ones
    // (a device opened again after a failover) run clean.
    const int fd = ::open(once, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) return FaultPlan();
    if (fd < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(kCardFaultOnceEnv, ": cannot create ", once, ": ",
                       std::strerror(errno)));
    }
    ::close(fd);
  }
  return plan;
}

FaultsAtStart FaultPlan::OnStart(std::string_view kernel) {
  ++starts_;
  const uint64_t kernel_starts = ++kernel_starts_[std::string(kernel)];
  FaultsAtStart fired;
  for (const Fault& fault : faults_) {
    const uint64_t count = fault.kernel.empty() ? starts_ : kernel_starts;
    if (count != fault.start) continue;
    if (!fault.kernel.empty() && fault.kernel != kernel) continue;
    switch (fault.kind) {
      case FaultKind::kHang:
        fired.hang = true;
        break;
      case FaultKind::kDie:
        fired.die = true;
        break;
      case FaultKind::kError:
        fired.error = true;
        break;
      case FaultKind::kSync:
        fired.sync = true;
        break;
    }
  }
  return fired;
}

std::string FaultPlan::ToString() const {
  return absl::StrJoin(faults_, ",", [](std::string* out, const Fault& f) {
    absl::StrAppend(out, FaultKindName(f.kind), "@", f.start);
    if (!f.kernel.empty()) absl::StrAppend(out, ":", f.kernel);
  });
}

}  // namespace fxserve::backends::fpga
