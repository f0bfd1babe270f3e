# Compiler flags shared by every fxserve target: warnings, -Werror in CI,
# and the sanitizer build.
add_library(fxserve_build_flags INTERFACE)
target_compile_options(fxserve_build_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wno-unused-parameter)
if(FXSERVE_WERROR)
  target_compile_options(fxserve_build_flags INTERFACE -Werror)
endif()
if(FXSERVE_SANITIZE)
  target_compile_options(fxserve_build_flags INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all
    -fno-omit-frame-pointer)
  target_link_options(fxserve_build_flags INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all)
endif()
if(FXSERVE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "FXSERVE_FUZZ needs clang: CXX=clang++ cmake ...")
  endif()
  # Coverage feedback for libFuzzer in every library the fuzzers link.
  target_compile_options(fxserve_build_flags INTERFACE -fsanitize=fuzzer-no-link)
endif()
