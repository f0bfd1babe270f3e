# Tests of the CPU integer matrix product and thread pool. Included from
# tests/backends/CMakeLists.txt; paths are relative to this file.
fxserve_test(cpu_matmul_test
  SOURCES "${CMAKE_CURRENT_LIST_DIR}/int8_matmul_test.cc"
          "${CMAKE_CURRENT_LIST_DIR}/thread_pool_test.cc"
  LIBS fxserve_cpu_matmul absl::strings)
