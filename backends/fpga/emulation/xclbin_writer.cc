#include "backends/fpga/emulation/xclbin_writer.h"

#include <fcntl.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/strings/substitute.h"
#include "xclbin.h"  // XRT's public axlf layout (/usr/include/xrt).

namespace fxserve::backends::fpga {
namespace {

// ---------------------------------------------------------------------------
// Validation.

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("card manifest: ", field, ": ", problem));
}

bool IsCIdentifier(absl::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
  });
}

std::string KernelField(size_t k) { return absl::StrCat("kernels[", k, "]"); }

std::string ArgField(size_t k, size_t a) {
  return absl::StrCat(KernelField(k), ".args[", a, "]");
}

std::string CuName(const KernelManifest& kernel, size_t cu) {
  return absl::StrCat(kernel.name, "_", cu + 1);
}

std::string IpName(const KernelManifest& kernel, size_t cu) {
  return absl::StrCat(kernel.name, ":", CuName(kernel, cu));
}

absl::Status ValidateBanks(const CardManifest& m) {
  std::set<std::string> tags;
  constexpr size_t kMaxTag = sizeof(mem_data::m_tag) - 1;
  for (size_t i = 0; i < m.banks.size(); ++i) {
    const BankManifest& b = m.banks[i];
    const std::string field = absl::StrCat("banks[", i, "]");
    if (!absl::StartsWith(b.tag, "HBM") && !absl::StartsWith(b.tag, "DDR")) {
      return Invalid(field + ".tag", absl::StrCat("'", b.tag,
                                                  "' must start with HBM or "
                                                  "DDR (e.g. HBM[0], DDR[1])"));
    }
    if (b.tag.size() > kMaxTag) {
      return Invalid(field + ".tag",
                     absl::StrCat("'", b.tag, "' is longer than ", kMaxTag,
                                  " characters"));
    }
    if (!tags.insert(b.tag).second) {
      return Invalid(field + ".tag",
                     absl::StrCat("'", b.tag, "' is used twice"));
    }
    if (b.size_bytes == 0 || b.size_bytes % 1024 != 0) {
      return Invalid(field + ".size_bytes",
                     absl::StrCat(b.size_bytes,
                                  " is not a positive multiple of 1024 "
                                  "(MEM_TOPOLOGY stores KiB)"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateArg(const KernelManifest& k, size_t ki, size_t ai,
                         size_t num_banks) {
  const ArgManifest& a = k.args[ai];
  const std::string field = ArgField(ki, ai);
  if (!IsCIdentifier(a.name)) {
    return Invalid(field + ".name",
                   absl::StrCat("'", a.name, "' is not a C identifier"));
  }
  if (a.type.empty()) return Invalid(field + ".type", "is empty");
  if (a.size == 0) return Invalid(field + ".size", "is 0");
  if (a.is_buffer && a.size != 8) {
    return Invalid(field + ".size",
                   absl::StrCat(a.size,
                                ": a buffer argument is a 64-bit "
                                "address (8 bytes)"));
  }
  if (a.is_buffer && (a.bank < 0 || static_cast<size_t>(a.bank) >= num_banks)) {
    return Invalid(field + ".bank",
                   absl::StrCat(a.bank, " is not an index into banks (",
                                num_banks, " banks)"));
  }
  if (a.offset % 4 != 0 || a.offset < kControlRegisterBytes ||
      uint64_t{a.offset} + a.size > k.register_bytes) {
    return Invalid(field + ".offset",
                   absl::StrCat("0x", absl::Hex(a.offset), " (size ", a.size,
                                ") is not a 4-byte aligned offset in [0x",
                                absl::Hex(kControlRegisterBytes), ", 0x",
                                absl::Hex(k.register_bytes),
                                ") past the control registers"));
  }
  return absl::OkStatus();
}

// Arguments sorted by offset may not share a register byte.
absl::Status ValidateArgOverlaps(const KernelManifest& k, size_t ki) {
  std::vector<size_t> order(k.args.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&k](size_t x, size_t y) {
    return k.args[x].offset < k.args[y].offset;
  });
  for (size_t i = 1; i < order.size(); ++i) {
    const ArgManifest& prev = k.args[order[i - 1]];
    if (prev.offset + prev.size > k.args[order[i]].offset) {
      return Invalid(ArgField(ki, order[i]) + ".offset",
                     absl::StrCat("overlaps argument '", prev.name, "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateKernel(const CardManifest& m, size_t ki) {
  const KernelManifest& k = m.kernels[ki];
  const std::string field = KernelField(ki);
  if (!IsCIdentifier(k.name)) {
    return Invalid(field + ".name",
                   absl::StrCat("'", k.name, "' is not a C identifier"));
  }
  const size_t last_cu = std::max<size_t>(k.cu_bases.size(), 1) - 1;
  if (IpName(k, last_cu).size() >= sizeof(ip_data::m_name)) {
    return Invalid(field + ".name", absl::StrCat("'", k.name, "' is too long"));
  }
  for (size_t j = 0; j < ki; ++j) {
    if (m.kernels[j].name == k.name) {
      return Invalid(field + ".name",
                     absl::StrCat("'", k.name, "' is also ", KernelField(j)));
    }
  }
  if (k.cu_bases.empty()) {
    return Invalid(field + ".cu_bases", "a kernel needs at least one CU");
  }
  if (k.register_bytes <= kControlRegisterBytes) {
    return Invalid(field + ".register_bytes",
                   absl::StrCat(k.register_bytes, " leaves no room for args"));
  }
  std::set<std::string> names;
  for (size_t ai = 0; ai < k.args.size(); ++ai) {
    if (absl::Status s = ValidateArg(k, ki, ai, m.banks.size()); !s.ok()) {
      return s;
    }
    if (!names.insert(k.args[ai].name).second) {
      return Invalid(ArgField(ki, ai) + ".name",
                     absl::StrCat("'", k.args[ai].name, "' is used twice"));
    }
  }
  return ValidateArgOverlaps(k, ki);
}

// No two CUs' register maps may share an address.
absl::Status ValidateCuRanges(const CardManifest& m) {
  struct Range {
    uint64_t begin, end;
    std::string field;
  };
  std::vector<Range> ranges;
  for (size_t ki = 0; ki < m.kernels.size(); ++ki) {
    const KernelManifest& k = m.kernels[ki];
    for (size_t c = 0; c < k.cu_bases.size(); ++c) {
      const uint64_t base = k.cu_bases[c];
      if (base > UINT64_MAX - k.register_bytes) {
        return Invalid(absl::StrCat(KernelField(ki), ".cu_bases[", c, "]"),
                       "the register map ends past 2^64");
      }
      ranges.push_back({base, base + k.register_bytes,
                        absl::StrCat(KernelField(ki), ".cu_bases[", c, "]")});
    }
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& x, const Range& y) { return x.begin < y.begin; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i - 1].end > ranges[i].begin) {
      return Invalid(
          ranges[i].field,
          absl::StrCat("0x", absl::Hex(ranges[i].begin),
                       " overlaps the register map of ", ranges[i - 1].field));
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Sections.

// One compute unit, in IP_LAYOUT order (by base address).
struct Cu {
  const KernelManifest* kernel;
  size_t number;  // Index among its kernel's CUs.
  uint64_t base;
};

std::vector<Cu> CusByBase(const CardManifest& m) {
  std::vector<Cu> cus;
  for (const KernelManifest& k : m.kernels) {
    for (size_t c = 0; c < k.cu_bases.size(); ++c) {
      cus.push_back({&k, c, k.cu_bases[c]});
    }
  }
  std::sort(cus.begin(), cus.end(),
            [](const Cu& x, const Cu& y) { return x.base < y.base; });
  return cus;
}

template <typename T>
void AppendBytes(std::string& out, const T& value, size_t bytes = sizeof(T)) {
  out.append(reinterpret_cast<const char*>(&value), bytes);
}

std::string XmlEscape(absl::string_view s) {
  return absl::StrReplaceAll(s, {{"&", "&amp;"},
                                 {"<", "&lt;"},
                                 {">", "&gt;"},
                                 {"\"", "&quot;"},
                                 {"'", "&apos;"}});
}

std::string Hex(uint64_t v) { return absl::StrCat("0x", absl::Hex(v)); }

// The EMBEDDED_METADATA XML XRT's xclbin parser reads
// (project.platform.device.core.kernel, its ports, args and instances).
// $0 build, $1 platform, $2 number of CUs.
constexpr char kXmlHead[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<project name="$0">
  <platform vendor="fxserve" boardid="$1" name="$1" featureRomTime="0">
    <version major="1" minor="0"/>
    <description/>
    <board name="$1" vendor="fxserve" fpgaDevice="sw_emu"/>
    <device name="fpga0" fpgaDevice="sw_emu" addrWidth="64">
      <core name="OCL_REGION_0" target="csim" type="clc_region"
            clockFreq="0MHz" numComputeUnits="$2">
)";
constexpr char kXmlTail[] = R"(      </core>
    </device>
  </platform>
</project>
)";
// $0 kernel name, $1 register map bytes.
constexpr char kKernelHead[] = R"(        <kernel name="$0" language="c"
                vlnv="fxserve:kernel:$0:1.0" preferredWorkGroupSizeMultiple="0"
                workGroupSize="1" interrupt="false"
                hwControlProtocol="ap_ctrl_hs">
          <port name="S_AXI_CONTROL" mode="slave" range="$1" dataWidth="32"
                portType="addressable" base="0x0"/>
          <port name="M_AXI_GMEM" mode="master" range="0xFFFFFFFFFFFFFFFF"
                dataWidth="512" portType="addressable" base="0x0"/>
)";
// $0 name, $1 addressQualifier, $2 index, $3 port, $4 size, $5 offset,
// $6 type.
constexpr char kArg[] =
    R"(          <arg name="$0" addressQualifier="$1" id="$2" port="$3"
               size="$4" offset="$5" hostOffset="0x0" hostSize="$4"
               type="$6"/>
)";
// $0 CU name, $1 base address.
constexpr char kInstance[] = R"(          <instance name="$0">
            <addrRemap base="$1" port="S_AXI_CONTROL"/>
          </instance>
)";

std::string KernelXml(const KernelManifest& k) {
  std::string xml =
      absl::Substitute(kKernelHead, k.name, Hex(k.register_bytes));
  for (size_t i = 0; i < k.args.size(); ++i) {
    const ArgManifest& a = k.args[i];
    absl::SubstituteAndAppend(&xml, kArg, a.name, a.is_buffer ? 1 : 0, i,
                              a.is_buffer ? "M_AXI_GMEM" : "S_AXI_CONTROL",
                              Hex(a.size), Hex(a.offset), XmlEscape(a.type));
  }
  for (size_t c = 0; c < k.cu_bases.size(); ++c) {
    absl::SubstituteAndAppend(&xml, kInstance, CuName(k, c),
                              Hex(k.cu_bases[c]));
  }
  return xml + "        </kernel>\n";
}

std::string MetadataXml(const CardManifest& m) {
  size_t num_cus = 0;
  for (const KernelManifest& k : m.kernels) num_cus += k.cu_bases.size();
  std::string xml = absl::Substitute(kXmlHead, XmlEscape(m.build),
                                     XmlEscape(m.platform), num_cus);
  for (const KernelManifest& k : m.kernels) xml += KernelXml(k);
  return xml + kXmlTail;
}

std::string IpLayoutSection(const std::vector<Cu>& cus) {
  ip_layout head{};
  head.m_count = static_cast<int32_t>(cus.size());
  std::string out;
  AppendBytes(out, head, offsetof(ip_layout, m_ip_data));
  for (const Cu& cu : cus) {
    ip_data ip{};
    ip.m_type = IP_KERNEL;
    ip.properties = AP_CTRL_HS << IP_CONTROL_SHIFT;  // Polled, no interrupt.
    ip.m_base_address = cu.base;
    const std::string name = IpName(*cu.kernel, cu.number);
    std::memcpy(ip.m_name, name.data(), name.size());
    AppendBytes(out, ip);
  }
  return out;
}

std::string MemTopologySection(const CardManifest& m) {
  mem_topology head{};
  head.m_count = static_cast<int32_t>(m.banks.size());
  std::string out;
  AppendBytes(out, head, offsetof(mem_topology, m_mem_data));
  for (const BankManifest& b : m.banks) {
    mem_data d{};
    d.m_type = absl::StartsWith(b.tag, "HBM") ? MEM_HBM : MEM_DDR4;
    d.m_used = 1;
    d.m_size = b.size_bytes / 1024;
    d.m_base_address = b.base_address;
    std::memcpy(d.m_tag, b.tag.data(), b.tag.size());
    AppendBytes(out, d);
  }
  return out;
}

std::string ConnectivitySection(const std::vector<Cu>& cus) {
  std::vector<connection> links;
  for (size_t ip = 0; ip < cus.size(); ++ip) {
    const std::vector<ArgManifest>& args = cus[ip].kernel->args;
    for (size_t a = 0; a < args.size(); ++a) {
      if (!args[a].is_buffer) continue;
      links.push_back(
          {static_cast<int32_t>(a), static_cast<int32_t>(ip), args[a].bank});
    }
  }
  connectivity head{};
  head.m_count = static_cast<int32_t>(links.size());
  std::string out;
  AppendBytes(out, head, offsetof(connectivity, m_connection));
  for (const connection& c : links) AppendBytes(out, c);
  return out;
}

// ---------------------------------------------------------------------------
// The axlf container.

struct Section {
  axlf_section_kind kind;
  absl::string_view name;
  std::string data;
};

constexpr uint64_t AlignTo8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

axlf Top(const CardManifest& m, uint64_t length, size_t num_sections) {
  axlf top;
  std::memset(&top, 0, sizeof(top));
  std::memcpy(top.m_magic, "xclbin2", sizeof(top.m_magic));
  top.m_signature_length = -1;  // No signature.
  std::memset(top.reserved, 0xff, sizeof(top.reserved));
  std::memset(top.m_keyBlock, 0xff, sizeof(top.m_keyBlock));
  top.m_header.m_length = length;
  top.m_header.m_timeStamp = static_cast<uint64_t>(std::time(nullptr));
  top.m_header.m_versionMajor = 2;
  top.m_header.m_versionMinor = 1;
  top.m_header.m_mode = XCLBIN_SW_EMU;
  std::memcpy(top.m_header.m_platformVBNV, m.platform.data(),
              m.platform.size());
  uuid_generate(top.m_header.uuid);
  top.m_header.m_numSections = static_cast<uint32_t>(num_sections);
  return top;
}

std::string Container(const CardManifest& m,
                      const std::vector<Section>& sections) {
  uint64_t offset = AlignTo8(offsetof(axlf, m_sections) +
                             sections.size() * sizeof(axlf_section_header));
  std::vector<axlf_section_header> headers;
  for (const Section& s : sections) {
    axlf_section_header h{};
    h.m_sectionKind = s.kind;
    std::memcpy(h.m_sectionName, s.name.data(), s.name.size());
    h.m_sectionOffset = offset;
    h.m_sectionSize = s.data.size();
    headers.push_back(h);
    offset = AlignTo8(offset + s.data.size());
  }
  std::string out;
  AppendBytes(out, Top(m, offset, sections.size()), offsetof(axlf, m_sections));
  for (const axlf_section_header& h : headers) AppendBytes(out, h);
  for (size_t i = 0; i < sections.size(); ++i) {
    out.resize(headers[i].m_sectionOffset, '\0');
    out += sections[i].data;
  }
  out.resize(offset, '\0');
  return out;
}

absl::Status ErrnoStatus(absl::string_view what, const std::string& path) {
  return absl::ErrnoToStatus(errno, absl::StrCat(what, " ", path));
}

absl::Status WriteAll(int fd, absl::string_view bytes,
                      const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("cannot write the xclbin", path);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateCardManifest(const CardManifest& manifest) {
  if (manifest.platform.empty() ||
      manifest.platform.size() >= sizeof(axlf_header::m_platformVBNV)) {
    return Invalid("platform", "needs 1 to 63 characters");
  }
  if (manifest.kernels.empty()) {
    return Invalid("kernels", "an xclbin needs at least one kernel");
  }
  if (absl::Status s = ValidateBanks(manifest); !s.ok()) return s;
  for (size_t k = 0; k < manifest.kernels.size(); ++k) {
    if (absl::Status s = ValidateKernel(manifest, k); !s.ok()) return s;
  }
  return ValidateCuRanges(manifest);
}

absl::StatusOr<std::string> MakeSwEmuXclbin(const CardManifest& manifest) {
  if (absl::Status s = ValidateCardManifest(manifest); !s.ok()) return s;
  const std::vector<Cu> cus = CusByBase(manifest);
  std::vector<Section> sections;
  sections.push_back(
      {EMBEDDED_METADATA, "EMBEDDED_METADATA", MetadataXml(manifest)});
  sections.push_back(
      {MEM_TOPOLOGY, "MEM_TOPOLOGY", MemTopologySection(manifest)});
  sections.push_back({IP_LAYOUT, "IP_LAYOUT", IpLayoutSection(cus)});
  sections.push_back({CONNECTIVITY, "CONNECTIVITY", ConnectivitySection(cus)});
  sections.push_back({BITSTREAM, "BITSTREAM", CardManifestToJson(manifest)});
  return Container(manifest, sections);
}

absl::Status WriteSwEmuXclbin(const CardManifest& manifest,
                              const std::string& path) {
  absl::StatusOr<std::string> bytes = MakeSwEmuXclbin(manifest);
  if (!bytes.ok()) return bytes.status();
  const std::string temp = absl::StrCat(path, ".tmp", ::getpid());
  const int fd =
      ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("cannot create the xclbin", temp);
  absl::Status status = WriteAll(fd, *bytes, temp);
  if (::close(fd) != 0 && status.ok()) {
    status = ErrnoStatus("cannot write the xclbin", temp);
  }
  if (status.ok() && std::rename(temp.c_str(), path.c_str()) != 0) {
    status = ErrnoStatus("cannot rename the xclbin to", path);
  }
  if (!status.ok()) ::unlink(temp.c_str());
  return status;
}

}  // namespace fxserve::backends::fpga
