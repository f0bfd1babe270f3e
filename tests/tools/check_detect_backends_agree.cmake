# Runs `fxtool detect --json --nms-iou none --threshold 0` on the photos
# with --backend cpu, csim and reference and checks that all three print
# exactly the same. Usage: cmake -DFXTOOL=... -DARTIFACT=dir
# -DPHOTOS=a.jpg,b.jpg -P this.
string(REPLACE "," ";" PHOTOS "${PHOTOS}")
set(first "")
foreach(backend cpu csim reference)
  execute_process(
    COMMAND "${FXTOOL}" detect --model "${ARTIFACT}" --backend ${backend}
            --json --nms-iou none --threshold 0 ${PHOTOS}
    OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "--backend ${backend} failed with ${rc}")
  endif()
  string(LENGTH "${out}" length)
  if(length LESS 1000)
    message(FATAL_ERROR "--backend ${backend} printed too little: ${out}")
  endif()
  if(first STREQUAL "")
    set(first "${out}")
  elseif(NOT out STREQUAL first)
    message(FATAL_ERROR "--backend ${backend} differs from --backend cpu")
  endif()
endforeach()
