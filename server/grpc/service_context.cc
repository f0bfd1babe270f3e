#include "server/grpc/service_context.h"

#include <chrono>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fxserve::server {

absl::StatusOr<ServedModel*> ServiceContext::FindModel(
    const std::string& name, const std::string& version) const {
  auto it = models_.find(name);
  if (it == models_.end()) {
    std::vector<std::string> names;
    for (const auto& [known, model] : models_) names.push_back(known);
    return absl::NotFoundError(
        absl::StrCat("unknown model '", name,
                     "'; this server has: ", absl::StrJoin(names, ", ")));
  }
  ServedModel* model = it->second.get();
  if (!version.empty() && version != model->version) {
    return absl::NotFoundError(absl::StrCat("model ", name, " has version ",
                                            model->version, " only, not ",
                                            version));
  }
  return model;
}

grpc::Status ServiceContext::Authorize(
    const grpc::CallbackServerContext& context) const {
  if (bearer_token_.empty()) return grpc::Status::OK;
  const std::string expected = absl::StrCat("Bearer ", bearer_token_);
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  bool match = false;
  if (it != metadata.end() && it->second.size() == expected.size()) {
    // Constant time: no early exit that would time the token.
    unsigned char difference = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
      difference |=
          static_cast<unsigned char>(it->second.data()[i] ^ expected[i]);
    }
    match = difference == 0;
  }
  if (match) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      it == metadata.end()
                          ? "this server needs a bearer token: send metadata "
                            "'authorization: Bearer <token>'"
                          : "the bearer token is not valid");
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::Time CallDeadline(const grpc::CallbackServerContext& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(deadline);
}

}  // namespace fxserve::server
