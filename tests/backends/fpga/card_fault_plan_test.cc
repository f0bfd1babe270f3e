// FXSERVE_CARD_FAULT parsing and counting (card/fault_plan.h).
#include "backends/fpga/emulation/card/fault_plan.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace fxserve::backends::fpga {
namespace {

FaultPlan MustParse(std::string_view spec) {
  absl::StatusOr<FaultPlan> plan = FaultPlan::Parse(spec);
  EXPECT_TRUE(plan.ok()) << spec << ": " << plan.status();
  return plan.ok() ? *std::move(plan) : FaultPlan();
}

TEST(CardFaultPlan, ParsesEveryKind) {
  FaultPlan plan = MustParse("hang@1, die@2:vadd ,error@30,sync@4:k_2");
  ASSERT_EQ(plan.faults().size(), 4u);
  EXPECT_EQ(plan.faults()[0].kind, FaultKind::kHang);
  EXPECT_EQ(plan.faults()[0].start, 1u);
  EXPECT_EQ(plan.faults()[0].kernel, "");
  EXPECT_EQ(plan.faults()[1].kind, FaultKind::kDie);
  EXPECT_EQ(plan.faults()[1].kernel, "vadd");
  EXPECT_EQ(plan.faults()[2].kind, FaultKind::kError);
  EXPECT_EQ(plan.faults()[2].start, 30u);
  EXPECT_EQ(plan.faults()[3].kind, FaultKind::kSync);
  EXPECT_EQ(plan.faults()[3].kernel, "k_2");
  EXPECT_EQ(plan.ToString(), "hang@1,die@2:vadd,error@30,sync@4:k_2");
}

TEST(CardFaultPlan, EmptyMeansNoFaults) {
  EXPECT_TRUE(MustParse("").empty());
  EXPECT_TRUE(MustParse("  ").empty());
}

TEST(CardFaultPlan, BadSpecsNameTheProblem) {
  const char* bad[] = {
      "hang",          "hang@",    "hang@0",
      "hang@-1",       "hang@+1",  "hang@1x",
      "hang@ 1",       "freeze@1", "HANG@1",
      "hang@1:",       "hang@1,",  ",hang@1",
      "hang@1,,die@2", "@1",       "hang@99999999999999999999"};
  for (const char* spec : bad) {
    absl::StatusOr<FaultPlan> plan = FaultPlan::Parse(spec);
    ASSERT_FALSE(plan.ok()) << spec;
    EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(plan.status().message().find(kCardFaultEnv), std::string::npos);
    EXPECT_NE(plan.status().message().find("kind@N"), std::string::npos);
  }
}

TEST(CardFaultPlan, CountsStartsOfAnyKernel) {
  FaultPlan plan = MustParse("hang@2,sync@3");
  FaultsAtStart first = plan.OnStart("a");
  EXPECT_FALSE(first.any());
  FaultsAtStart second = plan.OnStart("b");
  EXPECT_TRUE(second.hang);
  EXPECT_FALSE(second.sync || second.die || second.error);
  EXPECT_TRUE(plan.OnStart("a").sync);
  EXPECT_FALSE(plan.OnStart("a").any());  // Each fires once.
}

TEST(CardFaultPlan, KernelFaultsCountThatKernelOnly) {
  FaultPlan plan = MustParse("die@2:b,error@2");
  EXPECT_FALSE(plan.OnStart("b").any());   // b #1, any #1.
  FaultsAtStart at_a = plan.OnStart("a");  // a #1, any #2.
  EXPECT_TRUE(at_a.error);
  EXPECT_FALSE(at_a.die);
  FaultsAtStart at_b = plan.OnStart("b");  // b #2, any #3.
  EXPECT_TRUE(at_b.die);
  EXPECT_FALSE(at_b.error);
}

TEST(CardFaultPlan, SeveralFaultsMayFireTogether) {
  FaultPlan plan = MustParse("sync@1,error@1,hang@1");
  FaultsAtStart fired = plan.OnStart("k");
  EXPECT_TRUE(fired.sync && fired.error && fired.hang);
  EXPECT_FALSE(fired.die);
}

TEST(CardFaultPlan, ReadsTheEnvironment) {
  ASSERT_EQ(setenv(kCardFaultEnv, "die@7", 1), 0);
  absl::StatusOr<FaultPlan> plan = FaultPlan::FromEnvironment();
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->ToString(), "die@7");
  ASSERT_EQ(setenv(kCardFaultEnv, "die@x", 1), 0);
  EXPECT_FALSE(FaultPlan::FromEnvironment().ok());
  ASSERT_EQ(unsetenv(kCardFaultEnv), 0);
  plan = FaultPlan::FromEnvironment();
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->empty());
}

TEST(CardFaultPlan, OnceGivesTheFaultsToTheFirstCardOnly) {
  const std::string once =
      ::testing::TempDir() + "/fault-once-" + std::to_string(getpid());
  std::remove(once.c_str());
  ASSERT_EQ(setenv(kCardFaultEnv, "hang@2", 1), 0);
  ASSERT_EQ(setenv(kCardFaultOnceEnv, once.c_str(), 1), 0);
  absl::StatusOr<FaultPlan> first = FaultPlan::FromEnvironment();
  absl::StatusOr<FaultPlan> second = FaultPlan::FromEnvironment();
  ASSERT_EQ(setenv(kCardFaultOnceEnv, "/nonexistent/dir/once", 1), 0);
  absl::StatusOr<FaultPlan> unwritable = FaultPlan::FromEnvironment();
  unsetenv(kCardFaultOnceEnv);
  unsetenv(kCardFaultEnv);
  std::remove(once.c_str());
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->ToString(), "hang@2");
  EXPECT_TRUE(second->empty());
  ASSERT_FALSE(unwritable.ok());
  EXPECT_NE(unwritable.status().message().find("/nonexistent/dir/once"),
            std::string::npos);
}

}  // namespace
}  // namespace fxserve::backends::fpga
