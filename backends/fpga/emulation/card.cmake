# The emulated card: the device process XRT 2.13's sw_emu shim launches in
# place of Vitis' genericpciemodel (card/emulated_card.h).

# Everything but main(): the wire codec, device memory, fault plan, the
# card itself and the process around it.
add_library(fxserve_emulated_card
  card/rpc_wire.cc
  card/device_memory.cc
  card/fault_plan.cc
  card/emulated_card.cc
  card/card_process.cc)
target_include_directories(fxserve_emulated_card PUBLIC "${PROJECT_SOURCE_DIR}")
target_link_libraries(fxserve_emulated_card
  PUBLIC fxserve_card_manifest absl::status absl::statusor absl::span
         absl::time absl::flat_hash_map absl::flat_hash_set
  PRIVATE fxserve_build_flags absl::strings absl::str_format)

# The shim's side of the protocol, for tests and tools that play the host.
add_library(fxserve_card_host_rpc card/host_rpc.cc)
target_include_directories(fxserve_card_host_rpc PUBLIC "${PROJECT_SOURCE_DIR}")
target_link_libraries(fxserve_card_host_rpc
  PUBLIC fxserve_emulated_card absl::status absl::statusor absl::time
  PRIVATE fxserve_build_flags)

# The executable needs the C-simulated kernels (the lead's card runners).
if(TARGET fxserve_card_runners)
  add_executable(fxserve-emulated-card card/card_main.cc)
  target_link_libraries(fxserve-emulated-card PRIVATE
    fxserve_build_flags fxserve_emulated_card fxserve_card_runners)
else()
  message(STATUS "fxserve: no fxserve_card_runners target, so no "
                 "fxserve-emulated-card executable")
endif()
