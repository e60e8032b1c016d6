# nearftd pipeline integration tests (real nearsim + nearftd processes on 127.0.0.1).
if(TARGET nearsim AND TARGET nearftd AND NF_NODE)
  add_test(NAME pipeline_api
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/pipeline_api.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> 10000)
  set_tests_properties(pipeline_api PROPERTIES TIMEOUT 600 LABELS "integration;slow")
  add_test(NAME pipeline_api_small
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/pipeline_api.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> 300)
  set_tests_properties(pipeline_api_small PROPERTIES TIMEOUT 300 LABELS integration)
  add_test(NAME pipeline_crash
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/pipeline_crash.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> 6)
  set_tests_properties(pipeline_crash PROPERTIES TIMEOUT 600 LABELS integration)
  # The key pool changes across a restart while signed transactions are unresolved.
  add_test(NAME pipeline_keys_restart
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/pipeline_keys_restart.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd>)
  set_tests_properties(pipeline_keys_restart PROPERTIES TIMEOUT 400 LABELS integration)
  add_test(NAME pipeline_idem
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/pipeline_idem.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd>)
  set_tests_properties(pipeline_idem PROPERTIES TIMEOUT 300 LABELS integration)
endif()
