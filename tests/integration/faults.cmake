# Submit under a degrading RPC: real nearsim + nearftd on 127.0.0.1, faults
# injected through nearsim's flags and POST /sim/faults. The heavy ones are labelled "slow" so the
# sanitizer builds skip them; the others run everywhere.
if(TARGET nearsim AND TARGET nearftd AND NF_NODE)
  foreach(t funds receivers nonce ratelimit failover expired tokens rejections state_stake)
    add_test(NAME faults_${t}
             COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/faults_${t}.mjs
                     $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd>)
    set_tests_properties(faults_${t} PROPERTIES TIMEOUT 400 LABELS integration)
  endforeach()
  set(NF_NAPI_FAULTS ${CMAKE_SOURCE_DIR}/tests/conformance/node_modules/near-api-js)
  if(EXISTS ${NF_NAPI_FAULTS})
    add_test(NAME faults_keys
             COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/faults_keys.mjs
                     $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> ${NF_NAPI_FAULTS})
    set_tests_properties(faults_keys PROPERTIES TIMEOUT 400 LABELS integration)
  endif()
  # A lagging endpoint (nearsim --lagging-listen) next to the live one while answers are lost:
  # no transaction is declared dead on a lookup the lagging node answers (the dead proof). Rounds
  # of 100 transfers (at least 3) until a proof could not prove, at most 8.
  add_test(NAME faults_lagging
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/faults_lagging.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd>)
  set_tests_properties(faults_lagging PROPERTIES TIMEOUT 600 LABELS integration)
  add_test(NAME faults_chaos_small
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/faults_chaos.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> 2000 4)
  set_tests_properties(faults_chaos_small PROPERTIES TIMEOUT 400 LABELS integration)
  add_test(NAME faults_chaos
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/faults_chaos.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> 20000 20)
  set_tests_properties(faults_chaos PROPERTIES TIMEOUT 400 LABELS "integration;slow")
endif()

# The log's writes fail and recover (tests/faults/fail_io.c, an LD_PRELOAD shim). Default build
# only: a sanitizer runtime linked into nearftd intercepts writev itself, so the shim never sees
# the call there.
if(TARGET nearsim AND TARGET nearftd AND NOT NF_SANITIZE)
  add_library(nf_fail_io MODULE ${CMAKE_SOURCE_DIR}/tests/faults/fail_io.c)
  target_link_libraries(nf_fail_io PRIVATE ${CMAKE_DL_LIBS})
  add_test(NAME faults_disk_io
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/faults_disk_io.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> $<TARGET_FILE:nf_fail_io>)
  set_tests_properties(faults_disk_io PROPERTIES TIMEOUT 400 LABELS integration)
  # One failing fdatasync or writev (EIO, ENOSPC) at each position of a sweep.
  add_test(NAME faults_io_sweep
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/faults_io_sweep.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> $<TARGET_FILE:nf_fail_io>)
  set_tests_properties(faults_io_sweep PROPERTIES TIMEOUT 600 LABELS integration)
  # 20 power cuts under load: the shim records each log file's synced size; SIGKILL, then the
  # files are cut back to it.
  add_test(NAME faults_power_cut
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/faults_power_cut.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> $<TARGET_FILE:nf_fail_io> 20)
  set_tests_properties(faults_power_cut PROPERTIES TIMEOUT 900 LABELS integration)
endif()

# The disk under the log fills up: a tmpfs the test mounts (root; otherwise it exits 77, which
# ctest reports as skipped with the script's reason in the output).
if(TARGET nearsim AND TARGET nearftd)
  add_test(NAME faults_disk_full
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/faults_disk_full.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd>)
  set_tests_properties(faults_disk_full PROPERTIES TIMEOUT 600 LABELS integration
                       SKIP_RETURN_CODE 77)
endif()
