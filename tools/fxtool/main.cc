// fxtool: fxserve's command-line entry point. Subcommands, one per task:
//   fxtool version    what this build is
// Later issues add model tools and `serve`.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/str_cat.h"
#include "build_info.h"

namespace {

constexpr char kUsage[] =
    "fxserve command-line tool.\n"
    "\n"
    "Usage: fxtool <command> [flags]\n"
    "\n"
    "Commands:\n"
    "  version   Print the fxserve version and how this binary was built.\n"
    "\n"
    "Run 'fxtool --helpfull' for every flag.";

std::string VersionText() {
  return absl::StrCat("fxserve ", fxserve::kVersion, " (",
                      fxserve::kGitDescribe, ", ", fxserve::kBuildType,
                      " build, HLS types: ", fxserve::kHlsTypes, ")");
}

int RunVersion() {
  std::printf("%s\n", VersionText().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Plain help exits 0 with the command list (absl's --help lists flags and
  // exits 1).
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "help") {
      std::printf("%s\n", kUsage);
      return 0;
    }
  }
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig config;
  config.version_string = [] { return VersionText() + "\n"; };
  absl::SetFlagsUsageConfig(config);
  const std::vector<char*> args = absl::ParseCommandLine(argc, argv);

  if (args.size() < 2) {
    std::fprintf(stderr, "fxtool: no command given.\n\n%s\n", kUsage);
    return 2;
  }
  const std::string command = args[1];
  if (command == "version") return RunVersion();
  std::fprintf(stderr, "fxtool: unknown command '%s'.\n\n%s\n", command.c_str(),
               kUsage);
  return 2;
}
