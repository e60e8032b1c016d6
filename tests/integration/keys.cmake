# Key provisioning and configuration checks: the nearft CLI (keys add|list|remove, doctor) against
# a real nearsim on 127.0.0.1.
if(TARGET nearsim AND TARGET nearft AND NF_NODE)
  add_test(NAME keys_cli
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/keys_cli.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearft>)
  set_tests_properties(keys_cli PROPERTIES TIMEOUT 600 LABELS integration)
endif()
