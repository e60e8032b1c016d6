# The status page (GET /) in headless Chromium against nearftd on nearsim; skipped (77) without
# chromium. Node 20 needs --experimental-websocket for the DevTools connection.
if(TARGET nearsim AND TARGET nearftd AND TARGET nearft AND NF_NODE)
  add_test(NAME status_page
           COMMAND ${NF_NODE} --experimental-websocket --no-warnings
                   ${CMAKE_CURRENT_SOURCE_DIR}/status_page.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> $<TARGET_FILE:nearft>)
  set_tests_properties(status_page PROPERTIES TIMEOUT 300 LABELS integration SKIP_RETURN_CODE 77)
endif()
