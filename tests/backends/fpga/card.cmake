# Tests of the emulated card (backends/fpga/emulation/card/).
fxserve_test(card_wire_test
  SOURCES card_wire_test.cc
  LIBS fxserve_emulated_card absl::strings)
fxserve_test(card_device_memory_test
  SOURCES card_device_memory_test.cc
  LIBS fxserve_emulated_card)
fxserve_test(card_fault_plan_test
  SOURCES card_fault_plan_test.cc
  LIBS fxserve_emulated_card)
fxserve_test(card_emulated_card_test
  SOURCES card_emulated_card_test.cc
  LIBS fxserve_emulated_card fxserve_card_host_rpc fxserve_card_manifest
       absl::strings Threads::Threads)
fxserve_test(card_process_test
  SOURCES card_process_test.cc
  LIBS fxserve_emulated_card fxserve_card_host_rpc fxserve_card_manifest
       absl::strings)
