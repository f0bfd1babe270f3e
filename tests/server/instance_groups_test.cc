// ResolveInstances: a config's instance_group entries become named
// instances with a backend and device; bad groups are clear errors.
#include "server/instance_groups.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace fxserve::server {
namespace {

using ::testing::HasSubstr;

config::ModelConfig Parse(const std::string& text) {
  config::ModelConfig config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "name: \"m\" kind: LLM " + text, &config))
      << text;
  return config;
}

// "name:backend:device" per instance, for compact expectations.
std::vector<std::string> Resolve(const std::string& text,
                                 const std::string& backend = "cpu",
                                 int device = 0) {
  absl::StatusOr<std::vector<InstanceSpec>> specs =
      ResolveInstances(Parse(text), backend, device);
  EXPECT_TRUE(specs.ok()) << specs.status();
  std::vector<std::string> out;
  for (const InstanceSpec& s : specs.value_or(std::vector<InstanceSpec>{})) {
    out.push_back(s.name + ":" + s.backend + ":" + std::to_string(s.device));
  }
  return out;
}

TEST(ResolveInstances, NoGroupIsOneInstanceOfTheModelsBackend) {
  EXPECT_EQ(Resolve(""), (std::vector<std::string>{"cpu_0:cpu:-1"}));
  EXPECT_EQ(Resolve("backend: \"fpga\""),
            (std::vector<std::string>{"fpga_0:fpga:0"}));
  EXPECT_EQ(Resolve("", "fpga", 3),
            (std::vector<std::string>{"fpga_0:fpga:3"}));
}

TEST(ResolveInstances, FpgaGroupsCountPerDeviceAndNumberOnAcrossGroups) {
  EXPECT_EQ(
      Resolve("instance_group { kind: KIND_FPGA count: 2 devices: [0, 1] }"
              "instance_group { kind: KIND_CPU }"
              "instance_group { kind: KIND_FPGA devices: 2 }"),
      (std::vector<std::string>{"fpga_0:fpga:0", "fpga_1:fpga:0",
                                "fpga_2:fpga:1", "fpga_3:fpga:1",
                                "cpu_0:cpu:-1", "fpga_4:fpga:2"}));
}

TEST(ResolveInstances, NamedGroupsAndDefaults) {
  EXPECT_EQ(Resolve("instance_group { name: \"card\" kind: KIND_FPGA }"
                    "instance_group { kind: KIND_AUTO count: 2 }",
                    "csim", 5),
            (std::vector<std::string>{"card_0:fpga:5", "csim_0:csim:-1",
                                      "csim_1:csim:-1"}));
}

TEST(ResolveInstances, BadGroupsSayWhatIsWrong) {
  for (const auto& [text, expected] :
       std::vector<std::pair<std::string, std::string>>{
           {"instance_group { kind: KIND_CPU devices: 0 }",
            "devices apply to kind KIND_FPGA only"},
           {"instance_group { kind: KIND_FPGA devices: -1 }",
            "is not an XRT index"},
           {"instance_group {} instance_group { count: -2 }",
            "instance_group 2: count must be in 0..64"},
           {"instance_group { count: 65 }", "count must be in 0..64"}}) {
    absl::StatusOr<std::vector<InstanceSpec>> specs =
        ResolveInstances(Parse(text), "cpu", 0);
    ASSERT_FALSE(specs.ok()) << text;
    EXPECT_EQ(specs.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(specs.status().message(), HasSubstr(expected)) << text;
  }
}

TEST(FpgaDevicesNeeded, OneMoreThanTheHighestDeviceNamed) {
  std::vector<RepositoryModel> models(2);
  models[0].config = Parse("");
  models[1].config = Parse(
      "instance_group { kind: KIND_FPGA devices: [1, 3] } "
      "instance_group { kind: KIND_CPU }");
  EXPECT_EQ(FpgaDevicesNeeded(models, "cpu", 0), 4);
  EXPECT_EQ(FpgaDevicesNeeded({models[0]}, "cpu", 0), 1);
  EXPECT_EQ(FpgaDevicesNeeded({models[0]}, "fpga", 2), 3);
}

}  // namespace
}  // namespace fxserve::server
