# Copies ARTIFACT to WORK, overwrites one byte near the end of the tensor
# data, and expects fxtool generate to fail with the checksum message.
file(REMOVE_RECURSE "${WORK}")
file(COPY "${ARTIFACT}/" DESTINATION "${WORK}")
set(file "${WORK}/fxserve-model.safetensors")
file(SIZE "${file}" size)
math(EXPR offset "${size} - 1000")
file(READ "${file}" byte OFFSET ${offset} LIMIT 1 HEX)
if(byte STREQUAL "a5")
  set(new "\\x5a")
else()
  set(new "\\xa5")
endif()
execute_process(
  COMMAND sh -c "printf '${new}' | dd of='${file}' bs=1 seek=${offset} conv=notrunc status=none"
  RESULT_VARIABLE dd_code)
if(NOT dd_code EQUAL 0)
  message(FATAL_ERROR "could not modify ${file}")
endif()
execute_process(COMMAND "${FXTOOL}" generate --model "${WORK}" "Hi"
  RESULT_VARIABLE code ERROR_VARIABLE err OUTPUT_QUIET)
if(code EQUAL 0)
  message(FATAL_ERROR "fxtool accepted a corrupt artifact")
endif()
if(NOT err MATCHES "is corrupt: its tensor data has CRC-32")
  message(FATAL_ERROR "unexpected message: ${err}")
endif()
message(STATUS "corrupt artifact rejected: ${err}")
