# GEMV bandwidth of the CPU integer matrix product per ISA, next to a
# STREAM-triad figure. Included from bench/CMakeLists.txt. Run:
# build/release/bench/cpu_matmul_bench
add_executable(cpu_matmul_bench "${CMAKE_CURRENT_LIST_DIR}/cpu_matmul_bench.cc")
target_link_libraries(cpu_matmul_bench PRIVATE
  fxserve_cpu_matmul fxserve_build_flags benchmark::benchmark)
