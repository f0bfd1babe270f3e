// The xclbin writer against XRT's own parser (xrt::xclbin, Debian's XRT
// 2.13), and its manifest validation.
#include "backends/fpga/emulation/xclbin_writer.h"

#include <experimental/xrt_xclbin.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backends/fpga/emulation/card_manifest.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fxserve::backends::fpga {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kMiB = uint64_t{1} << 20;

ArgManifest Buffer(std::string name, uint32_t offset, int bank,
                   std::string type = "ap_uint<512>*") {
  return {std::move(name), true, offset, 8, bank, std::move(type)};
}

ArgManifest Scalar(std::string name, uint32_t offset, uint32_t size,
                   std::string type) {
  return {std::move(name), false, offset, size, -1, std::move(type)};
}

// Two kernels (two CUs and one), six HBM banks.
CardManifest TwoKernels() {
  CardManifest m;
  m.build = "toy-w4a8";
  for (int i = 0; i < 6; ++i) {
    m.banks.push_back(
        {absl::StrCat("HBM[", i, "]"), i * 256 * kMiB, 256 * kMiB});
  }
  KernelManifest step;
  step.name = "fxserve_step";
  step.args = {Buffer("in", 0x10, 0), Buffer("weights", 0x1c, 3),
               Buffer("out", 0x28, 5, "int*"), Scalar("n", 0x34, 4, "int"),
               Scalar("scale", 0x3c, 8, "long long")};
  step.cu_bases = {0x1800000, 0x1810000};
  KernelManifest copy;
  copy.name = "fxserve_copy";
  copy.args = {Buffer("src", 0x10, 1), Buffer("dst", 0x1c, 2),
               Scalar("bytes", 0x28, 4, "unsigned int")};
  copy.cu_bases = {0x1820000};
  copy.register_bytes = 0x100;
  m.kernels = {step, copy};
  return m;
}

// Unique per process: ctest runs the tests of this file in parallel.
std::string TempPath(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "/xclbin_writer_test_", ::getpid(),
                      "_", name);
}

// The BITSTREAM section, found by walking the axlf section headers.
std::string BitstreamSection(const xrt::xclbin& xclbin) {
  const axlf* top = xclbin.get_axlf();
  const char* base = reinterpret_cast<const char*>(top);
  for (uint32_t i = 0; i < top->m_header.m_numSections; ++i) {
    const axlf_section_header& h = top->m_sections[i];
    if (h.m_sectionKind == BITSTREAM) {
      return std::string(base + h.m_sectionOffset, h.m_sectionSize);
    }
  }
  return "";
}

class XclbinWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = TempPath("two_kernels.xclbin");
    ASSERT_TRUE(WriteSwEmuXclbin(manifest_, path_).ok());
  }
  void TearDown() override { std::remove(path_.c_str()); }

  CardManifest manifest_ = TwoKernels();
  std::string path_;
};

TEST_F(XclbinWriterTest, XrtReadsKernelsAndArguments) {
  xrt::xclbin xclbin(path_);
  std::vector<xrt::xclbin::kernel> kernels = xclbin.get_kernels();
  ASSERT_EQ(kernels.size(), 2u);
  for (size_t k = 0; k < kernels.size(); ++k) {
    const KernelManifest& want = manifest_.kernels[k];
    SCOPED_TRACE(want.name);
    EXPECT_EQ(kernels[k].get_name(), want.name);
    std::vector<xrt::xclbin::arg> args = kernels[k].get_args();
    ASSERT_EQ(args.size(), want.args.size());
    ASSERT_EQ(kernels[k].get_num_args(), want.args.size());
    for (size_t a = 0; a < args.size(); ++a) {
      const ArgManifest& arg = want.args[a];
      SCOPED_TRACE(arg.name);
      EXPECT_EQ(args[a].get_name(), arg.name);
      EXPECT_EQ(args[a].get_index(), a);
      EXPECT_EQ(args[a].get_offset(), arg.offset);
      EXPECT_EQ(args[a].get_size(), arg.size);
      EXPECT_EQ(args[a].get_host_type(), arg.type);
      std::vector<xrt::xclbin::mem> mems = args[a].get_mems();
      if (!arg.is_buffer) {
        EXPECT_TRUE(mems.empty());
        continue;
      }
      ASSERT_EQ(mems.size(), 1u);
      EXPECT_EQ(mems[0].get_index(), arg.bank);
      EXPECT_EQ(mems[0].get_tag(), manifest_.banks[arg.bank].tag);
    }
  }
}

TEST_F(XclbinWriterTest, XrtReadsComputeUnits) {
  xrt::xclbin xclbin(path_);
  for (const KernelManifest& want : manifest_.kernels) {
    SCOPED_TRACE(want.name);
    std::vector<xrt::xclbin::ip> cus = xclbin.get_kernel(want.name).get_cus();
    ASSERT_EQ(cus.size(), want.cu_bases.size());
    for (size_t c = 0; c < cus.size(); ++c) {
      EXPECT_EQ(cus[c].get_name(),
                absl::StrCat(want.name, ":", want.name, "_", c + 1));
      EXPECT_EQ(cus[c].get_base_address(), want.cu_bases[c]);
      EXPECT_EQ(cus[c].get_size(), want.register_bytes);
      EXPECT_EQ(cus[c].get_control_type(), xrt::xclbin::ip::control_type::hs);
      EXPECT_EQ(cus[c].get_num_args(), want.args.size());
    }
  }
  EXPECT_EQ(xclbin.get_ips().size(), 3u);
}

TEST_F(XclbinWriterTest, XrtReadsMemoryBanks) {
  xrt::xclbin xclbin(path_);
  std::vector<xrt::xclbin::mem> mems = xclbin.get_mems();
  ASSERT_EQ(mems.size(), manifest_.banks.size());
  for (size_t i = 0; i < mems.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(mems[i].get_tag(), manifest_.banks[i].tag);
    EXPECT_EQ(mems[i].get_index(), static_cast<int32_t>(i));
    EXPECT_EQ(mems[i].get_type(), xrt::xclbin::mem::memory_type::hbm);
    EXPECT_TRUE(mems[i].get_used());
    EXPECT_EQ(mems[i].get_base_address(), manifest_.banks[i].base_address);
    EXPECT_EQ(mems[i].get_size_kb(), manifest_.banks[i].size_bytes / 1024);
  }
}

TEST_F(XclbinWriterTest, IsASwEmuXclbinForThePlatform) {
  xrt::xclbin xclbin(path_);
  EXPECT_EQ(xclbin.get_target_type(), xrt::xclbin::target_type::sw_emu);
  EXPECT_EQ(xclbin.get_axlf()->m_header.m_mode, XCLBIN_SW_EMU);
  EXPECT_EQ(xclbin.get_xsa_name(), manifest_.platform);
  EXPECT_TRUE(static_cast<bool>(xclbin.get_uuid()));  // Not null.
}

TEST_F(XclbinWriterTest, BitstreamHoldsTheManifest) {
  xrt::xclbin xclbin(path_);
  const std::string json = BitstreamSection(xclbin);
  ASSERT_FALSE(json.empty());
  absl::StatusOr<CardManifest> back = ParseCardManifest(json);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(CardManifestToJson(*back), CardManifestToJson(manifest_));
  EXPECT_EQ(back->build, manifest_.build);
  ASSERT_EQ(back->kernels.size(), 2u);
  EXPECT_EQ(back->kernels[0].cu_bases, manifest_.kernels[0].cu_bases);
  EXPECT_EQ(back->kernels[1].args[2].name, "bytes");
}

TEST(XclbinWriter, EveryFileGetsItsOwnUuid) {
  absl::StatusOr<std::string> a = MakeSwEmuXclbin(TwoKernels());
  absl::StatusOr<std::string> b = MakeSwEmuXclbin(TwoKernels());
  ASSERT_TRUE(a.ok() && b.ok());
  xrt::xclbin xa(std::vector<char>(a->begin(), a->end()));
  xrt::xclbin xb(std::vector<char>(b->begin(), b->end()));
  EXPECT_NE(xa.get_uuid().to_string(), xb.get_uuid().to_string());
  EXPECT_EQ(xa.get_axlf()->m_header.m_length, a->size());
}

TEST(XclbinWriter, DdrTagsAreDdr4Banks) {
  CardManifest m = TwoKernels();
  m.banks[1].tag = "DDR[1]";
  absl::StatusOr<std::string> bytes = MakeSwEmuXclbin(m);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  xrt::xclbin xclbin(std::vector<char>(bytes->begin(), bytes->end()));
  EXPECT_EQ(xclbin.get_mems()[1].get_type(),
            xrt::xclbin::mem::memory_type::ddr4);
  EXPECT_EQ(xclbin.get_mems()[0].get_type(),
            xrt::xclbin::mem::memory_type::hbm);
}

TEST(XclbinWriter, WriteErrorsNameThePath) {
  const std::string path = "/nonexistent-fxserve-dir/x.xclbin";
  absl::Status s = WriteSwEmuXclbin(TwoKernels(), path);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("/nonexistent-fxserve-dir"));
}

TEST(XclbinWriter, InvalidManifestWritesNothing) {
  CardManifest m = TwoKernels();
  m.kernels.clear();
  const std::string path = TempPath("invalid.xclbin");
  std::remove(path.c_str());
  EXPECT_EQ(WriteSwEmuXclbin(m, path).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::fopen(path.c_str(), "rb"), nullptr);
}

// ---------------------------------------------------------------------------
// Validation: one bad field at a time.

struct BadField {
  std::string test_name;
  std::function<void(CardManifest&)> spoil;
  std::string field;  // What the error must name.
};

class XclbinValidationTest : public ::testing::TestWithParam<BadField> {};

TEST_P(XclbinValidationTest, NamesTheField) {
  CardManifest m = TwoKernels();
  GetParam().spoil(m);
  absl::StatusOr<std::string> bytes = MakeSwEmuXclbin(m);
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bytes.status().message()),
              HasSubstr(GetParam().field + ":"));
  EXPECT_EQ(ValidateCardManifest(m), bytes.status());
}

INSTANTIATE_TEST_SUITE_P(
    AllFields, XclbinValidationTest,
    ::testing::Values(
        BadField{"NoKernels", [](CardManifest& m) { m.kernels.clear(); },
                 "kernels"},
        BadField{"NoPlatform", [](CardManifest& m) { m.platform.clear(); },
                 "platform"},
        BadField{"DuplicateKernel",
                 [](CardManifest& m) { m.kernels[1].name = "fxserve_step"; },
                 "kernels[1].name"},
        BadField{"KernelNameNotAnIdentifier",
                 [](CardManifest& m) { m.kernels[0].name = "step.v2"; },
                 "kernels[0].name"},
        BadField{"NoComputeUnit",
                 [](CardManifest& m) { m.kernels[1].cu_bases.clear(); },
                 "kernels[1].cu_bases"},
        BadField{"OverlappingComputeUnits",
                 [](CardManifest& m) { m.kernels[1].cu_bases = {0x1810800}; },
                 "kernels[1].cu_bases[0]"},
        BadField{"DuplicateArg",
                 [](CardManifest& m) { m.kernels[0].args[1].name = "in"; },
                 "kernels[0].args[1].name"},
        BadField{"BufferWithoutBank",
                 [](CardManifest& m) { m.kernels[0].args[2].bank = -1; },
                 "kernels[0].args[2].bank"},
        BadField{"BufferBankOutOfRange",
                 [](CardManifest& m) { m.kernels[1].args[0].bank = 6; },
                 "kernels[1].args[0].bank"},
        BadField{"BufferNotEightBytes",
                 [](CardManifest& m) { m.kernels[0].args[0].size = 4; },
                 "kernels[0].args[0].size"},
        BadField{"NoType",
                 [](CardManifest& m) { m.kernels[0].args[3].type.clear(); },
                 "kernels[0].args[3].type"},
        BadField{
            "OffsetPastRegisterMap",
            [](CardManifest& m) { m.kernels[1].args[2].offset = 0xfc + 4; },
            "kernels[1].args[2].offset"},
        BadField{"OffsetInControlRegisters",
                 [](CardManifest& m) { m.kernels[0].args[0].offset = 0x0; },
                 "kernels[0].args[0].offset"},
        BadField{"OffsetMisaligned",
                 [](CardManifest& m) { m.kernels[0].args[3].offset = 0x35; },
                 "kernels[0].args[3].offset"},
        BadField{"OverlappingArgs",
                 [](CardManifest& m) { m.kernels[0].args[1].offset = 0x14; },
                 "kernels[0].args[1].offset"},
        BadField{"DuplicateBankTag",
                 [](CardManifest& m) { m.banks[2].tag = "HBM[0]"; },
                 "banks[2].tag"},
        BadField{"BankTagNotHbmOrDdr",
                 [](CardManifest& m) { m.banks[0].tag = "PLRAM[0]"; },
                 "banks[0].tag"},
        BadField{"BankTagTooLong",
                 [](CardManifest& m) { m.banks[0].tag = "HBM[0123456789012]"; },
                 "banks[0].tag"},
        BadField{"BankSizeNotWholeKiB",
                 [](CardManifest& m) { m.banks[4].size_bytes = 1000; },
                 "banks[4].size_bytes"}),
    [](const ::testing::TestParamInfo<BadField>& param_info) {
      return param_info.param.test_name;
    });

}  // namespace
}  // namespace fxserve::backends::fpga
