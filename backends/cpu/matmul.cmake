# The CPU backend's integer matrix product (run-time ISA dispatch) and its
# thread pool. Included from backends/CMakeLists.txt. Paths are relative to
# this file, so it works from any including directory.
set(FXSERVE_CPU_MATMUL_DIR "${CMAKE_CURRENT_LIST_DIR}")
add_library(fxserve_cpu_matmul
  "${FXSERVE_CPU_MATMUL_DIR}/int8_matmul.cc"
  "${FXSERVE_CPU_MATMUL_DIR}/thread_pool.cc")
target_include_directories(fxserve_cpu_matmul PUBLIC "${PROJECT_SOURCE_DIR}")
target_link_libraries(fxserve_cpu_matmul
  PUBLIC absl::status absl::statusor absl::span absl::strings
  PRIVATE fxserve_build_flags Threads::Threads)

# The dispatcher (int8_matmul.cc) is built for baseline x86-64; only the
# per-ISA kernels get AVX flags, and run only on CPUs that have them.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  target_sources(fxserve_cpu_matmul PRIVATE
    "${FXSERVE_CPU_MATMUL_DIR}/int8_matmul_avx2.cc"
    "${FXSERVE_CPU_MATMUL_DIR}/int8_matmul_avx512.cc")
  set_source_files_properties(
    "${FXSERVE_CPU_MATMUL_DIR}/int8_matmul_avx2.cc"
    PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma")
  set_source_files_properties(
    "${FXSERVE_CPU_MATMUL_DIR}/int8_matmul_avx512.cc"
    PROPERTIES COMPILE_OPTIONS
      "-mavx512f;-mavx512bw;-mavx512vl;-mavx512vnni")
  target_compile_definitions(fxserve_cpu_matmul PRIVATE
    FXSERVE_CPU_X86_KERNELS=1)
endif()
