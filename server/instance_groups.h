// A model config's instance_group entries, resolved to the instances to
// create: each one's name, backend and device (proto/model_config.proto).
#ifndef FXSERVE_SERVER_INSTANCE_GROUPS_H_
#define FXSERVE_SERVER_INSTANCE_GROUPS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model_config.pb.h"
#include "server/model_repository.h"

namespace fxserve::server {

struct InstanceSpec {
  std::string name;     // "fpga_0", or "<group name>_0".
  std::string backend;  // "cpu", "fpga", "csim".
  int device = -1;      // fpga: the XRT device index; else -1.
};

// The instances of `config`, in group order. What it leaves out comes from
// the server: `default_backend` (--backend) for KIND_AUTO and for a config
// without groups, `default_device` (--fpga-device) for fpga instances
// without devices. InvalidArgument names the group and what is wrong.
absl::StatusOr<std::vector<InstanceSpec>> ResolveInstances(
    const config::ModelConfig& config, const std::string& default_backend,
    int default_device);

// Devices --fpga-emulation must emulate so that every fpga instance of
// `models` finds its card: one more than the highest index named, at
// least 1. Configs that do not resolve count as naming none.
int FpgaDevicesNeeded(const std::vector<RepositoryModel>& models,
                      const std::string& default_backend, int default_device);

}  // namespace fxserve::server

#endif  // FXSERVE_SERVER_INSTANCE_GROUPS_H_
