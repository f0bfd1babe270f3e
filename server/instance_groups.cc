#include "server/instance_groups.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"

namespace fxserve::server {
namespace {

using config::InstanceGroup;

// Each instance holds its own KV cache and worker threads.
constexpr int kMaxCount = 64;

std::string GroupBackend(const InstanceGroup& group,
                         const std::string& model_backend) {
  switch (group.kind()) {
    case InstanceGroup::KIND_CPU:
      return "cpu";
    case InstanceGroup::KIND_FPGA:
      return "fpga";
    default:
      return model_backend;
  }
}

absl::Status CheckGroup(const InstanceGroup& group, int index) {
  const std::string where = absl::StrCat("instance_group ", index + 1, ": ");
  if (!InstanceGroup::Kind_IsValid(group.kind())) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "kind must be KIND_AUTO, KIND_CPU or KIND_FPGA"));
  }
  if (group.count() < 0 || group.count() > kMaxCount) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "count must be in 0..", kMaxCount));
  }
  if (group.devices_size() > 0 && group.kind() != InstanceGroup::KIND_FPGA) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, "devices apply to kind KIND_FPGA only (this group is ",
        InstanceGroup::Kind_Name(group.kind()), ")"));
  }
  for (int device : group.devices()) {
    if (device < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "device ", device, " is not an XRT index"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<InstanceSpec>> ResolveInstances(
    const config::ModelConfig& config, const std::string& default_backend,
    int default_device) {
  const std::string model_backend =
      config.backend().empty() ? default_backend : config.backend();
  std::vector<InstanceGroup> groups(config.instance_group().begin(),
                                    config.instance_group().end());
  if (groups.empty()) groups.emplace_back();  // One KIND_AUTO instance.
  std::vector<InstanceSpec> specs;
  std::map<std::string, int> next_number;  // Per name prefix.
  for (size_t g = 0; g < groups.size(); ++g) {
    const InstanceGroup& group = groups[g];
    if (absl::Status s = CheckGroup(group, static_cast<int>(g)); !s.ok()) {
      return s;
    }
    const std::string backend = GroupBackend(group, model_backend);
    const std::string prefix = group.name().empty() ? backend : group.name();
    std::vector<int> devices(group.devices().begin(), group.devices().end());
    if (devices.empty()) devices.push_back(default_device);
    if (backend != "fpga") devices = {-1};
    for (int device : devices) {
      for (int i = 0; i < std::max(1, group.count()); ++i) {
        specs.push_back(
            {.name = absl::StrCat(prefix, "_", next_number[prefix]++),
             .backend = backend,
             .device = device});
      }
    }
  }
  return specs;
}

int FpgaDevicesNeeded(const std::vector<RepositoryModel>& models,
                      const std::string& default_backend, int default_device) {
  int needed = 1;
  for (const RepositoryModel& model : models) {
    absl::StatusOr<std::vector<InstanceSpec>> specs =
        ResolveInstances(model.config, default_backend, default_device);
    if (!specs.ok()) continue;
    for (const InstanceSpec& spec : *specs) {
      needed = std::max(needed, spec.device + 1);
    }
  }
  return needed;
}

}  // namespace fxserve::server
