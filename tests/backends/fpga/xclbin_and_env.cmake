# Tests of the xclbin writer, the libxrt_swemu fix and the sw_emu
# environment (include()d by CMakeLists.txt in this folder).

# The writer against XRT's own xclbin parser.
fxserve_test(xclbin_writer_test SOURCES xclbin_writer_test.cc
  LIBS fxserve_xclbin_writer fxserve_card_manifest fxserve_xrt absl::strings
       GTest::gmock)

# A toy device process for the end-to-end test (the real one is the
# emulated card in backends/fpga/emulation/card/).
add_executable(fxserve_toy_card toy_card_main.cc)
target_include_directories(fxserve_toy_card PRIVATE "${PROJECT_SOURCE_DIR}")
target_link_libraries(fxserve_toy_card PRIVATE
  fxserve_build_flags fxserve_emulated_card fxserve_card_manifest
  absl::status absl::strings)

# PrepareSwEmulation + EnsureSwEmuFixLoaded + the fix, end to end on XRT's
# sw_emu shim. Has its own main() (it re-executes itself with the fix
# preloaded); one test runs the toy without the fix to show it still
# crashes there.
fxserve_test(emulation_env_test SOURCES emulation_env_test.cc TIMEOUT 240
  LIBS fxserve_emulation_env fxserve_xclbin_writer fxserve_card_manifest
       fxserve_xrt absl::strings GTest::gmock)
target_compile_definitions(emulation_env_test PRIVATE
  FXSERVE_TOY_CARD="$<TARGET_FILE:fxserve_toy_card>")
add_dependencies(emulation_env_test fxserve_toy_card fxserve_swemu_fix)
