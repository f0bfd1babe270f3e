# The xclbin writer, the libxrt_swemu fix and the sw_emu environment
# (include()d by CMakeLists.txt in this folder).

# CardManifest -> a sw_emu xclbin XRT 2.13 loads.
add_library(fxserve_xclbin_writer ${CMAKE_CURRENT_LIST_DIR}/xclbin_writer.cc)
target_include_directories(fxserve_xclbin_writer PUBLIC "${PROJECT_SOURCE_DIR}")
target_link_libraries(fxserve_xclbin_writer
  PUBLIC fxserve_card_manifest absl::status absl::statusor
  PRIVATE fxserve_build_flags fxserve_xrt absl::strings)

# libfxserve_swemu_fix.so: LD_PRELOADed in emulation only, to work around
# Debian's libxrt_swemu dropping realloc's result and munmap()ing heap
# blocks (swemu_realloc_fix.c).
# Deliberately without fxserve_build_flags: a sanitizer runtime inside a
# malloc interposer would make it unusable in processes without one (the
# device process inherits LD_PRELOAD), and its C++-only warnings do not
# apply to C.
enable_language(C)
add_library(fxserve_swemu_fix SHARED ${CMAKE_CURRENT_LIST_DIR}/swemu_realloc_fix.c)
set_target_properties(fxserve_swemu_fix PROPERTIES
  C_STANDARD 11 C_EXTENSIONS ON C_VISIBILITY_PRESET hidden)
# -O2 in every build type: the forwarding calls must be tail calls (see the
# comment above the interposed functions).
target_compile_options(fxserve_swemu_fix PRIVATE
  -O2 -Wall -Wextra -Wpedantic -Wshadow -fno-builtin
  $<$<BOOL:${FXSERVE_WERROR}>:-Werror>)
target_link_libraries(fxserve_swemu_fix PRIVATE ${CMAKE_DL_LIBS})

# PrepareSwEmulation() and EnsureSwEmuFixLoaded().
add_library(fxserve_emulation_env ${CMAKE_CURRENT_LIST_DIR}/emulation_env.cc)
target_include_directories(fxserve_emulation_env PUBLIC "${PROJECT_SOURCE_DIR}")
target_link_libraries(fxserve_emulation_env
  PUBLIC fxserve_card_manifest fxserve_xrt absl::status
  PRIVATE fxserve_build_flags absl::statusor absl::strings ${CMAKE_DL_LIBS})
target_compile_definitions(fxserve_emulation_env PRIVATE
  FXSERVE_SWEMU_FIX_BUILD_PATH="$<TARGET_FILE:fxserve_swemu_fix>")
# Whoever uses the environment gets the fix library built too.
add_dependencies(fxserve_emulation_env fxserve_swemu_fix)
