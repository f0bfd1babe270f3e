#include "backends/fpga/emulation/card_manifest.h"

#include <exception>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace fxserve::backends::fpga {
namespace {

using nlohmann::json;

json ArgToJson(const ArgManifest& a) {
  return json{{"name", a.name},     {"is_buffer", a.is_buffer},
              {"offset", a.offset}, {"size", a.size},
              {"bank", a.bank},     {"type", a.type}};
}

json KernelToJson(const KernelManifest& k) {
  json args = json::array();
  for (const ArgManifest& a : k.args) args.push_back(ArgToJson(a));
  return json{{"name", k.name},
              {"args", args},
              {"cu_bases", k.cu_bases},
              {"register_bytes", k.register_bytes}};
}

// at() and get() throw json exceptions naming the problem; the caller
// turns them into one InvalidArgument.
CardManifest FromJson(const json& j) {
  CardManifest m;
  m.build = j.at("build").get<std::string>();
  m.platform = j.at("platform").get<std::string>();
  for (const json& b : j.at("banks")) {
    m.banks.push_back({b.at("tag").get<std::string>(),
                       b.at("base_address").get<uint64_t>(),
                       b.at("size_bytes").get<uint64_t>()});
  }
  for (const json& jk : j.at("kernels")) {
    KernelManifest k;
    k.name = jk.at("name").get<std::string>();
    k.cu_bases = jk.at("cu_bases").get<std::vector<uint64_t>>();
    k.register_bytes = jk.at("register_bytes").get<uint32_t>();
    for (const json& ja : jk.at("args")) {
      k.args.push_back(
          {ja.at("name").get<std::string>(), ja.at("is_buffer").get<bool>(),
           ja.at("offset").get<uint32_t>(), ja.at("size").get<uint32_t>(),
           ja.at("bank").get<int>(), ja.at("type").get<std::string>()});
    }
    m.kernels.push_back(std::move(k));
  }
  return m;
}

}  // namespace

std::string CardManifestToJson(const CardManifest& manifest) {
  json banks = json::array();
  for (const BankManifest& b : manifest.banks) {
    banks.push_back({{"tag", b.tag},
                     {"base_address", b.base_address},
                     {"size_bytes", b.size_bytes}});
  }
  json kernels = json::array();
  for (const KernelManifest& k : manifest.kernels) {
    kernels.push_back(KernelToJson(k));
  }
  return json{{"build", manifest.build},
              {"platform", manifest.platform},
              {"banks", banks},
              {"kernels", kernels}}
      .dump(1);
}

absl::StatusOr<CardManifest> ParseCardManifest(std::string_view text) {
  try {
    return FromJson(json::parse(text));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("the card manifest (the xclbin's BITSTREAM section) is "
                     "not valid: ",
                     e.what()));
  }
}

}  // namespace fxserve::backends::fpga
