# fxtool logits on the same artifact and tokens, on the cpu and csim
# backends: the printed logits must be byte-identical.
set(tokens "464 3616 286 1204 318 257 1310 13")
execute_process(COMMAND "${FXTOOL}" logits --model "${ARTIFACT}" --backend cpu
                        --tokens "${tokens}"
  OUTPUT_VARIABLE cpu RESULT_VARIABLE cpu_code)
execute_process(COMMAND "${FXTOOL}" logits --model "${ARTIFACT}" --backend csim
                        --tokens "${tokens}"
  OUTPUT_VARIABLE csim RESULT_VARIABLE csim_code)
if(NOT cpu_code EQUAL 0 OR NOT csim_code EQUAL 0)
  message(FATAL_ERROR "fxtool logits failed (${cpu_code}, ${csim_code})")
endif()
string(LENGTH "${cpu}" length)
if(length LESS 100000)
  message(FATAL_ERROR "too little output: ${length} characters")
endif()
if(NOT cpu STREQUAL csim)
  message(FATAL_ERROR "cpu and csim logits differ")
endif()
message(STATUS "cpu == csim over ${length} characters of logits")
