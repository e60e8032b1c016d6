# Security defences on real processes: nearsim + nearftd on 127.0.0.1, tokens made with nearft.
if(TARGET nearsim AND TARGET nearftd AND TARGET nearft AND NF_NODE)
  add_test(NAME security_auth
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/security_auth.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> $<TARGET_FILE:nearft>)
  set_tests_properties(security_auth PROPERTIES TIMEOUT 300 LABELS integration)
endif()
if(TARGET nearsim AND TARGET nearftd AND NF_NODE)
  add_test(NAME security_slow
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/security_slow.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd>)
  set_tests_properties(security_slow PROPERTIES TIMEOUT 600 LABELS integration)
  if(NF_SANITIZE)
    # A sanitizer runtime's shadow memory and quarantine make VmRSS say nothing about nearftd's
    # own buffers: the RSS cap is checked in the default build only.
    set_tests_properties(security_slow PROPERTIES ENVIRONMENT NF_SANITIZED=1)
  endif()
endif()

# Spend and rate limits on real processes: receiver refusals, per-transfer and hourly limits kept
# across kill -9 (the global one and a token's own), per-client rate limit.
if(TARGET nearsim AND TARGET nearftd AND TARGET nearft AND NF_NODE)
  add_test(NAME security_limits
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/security_limits.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> $<TARGET_FILE:nearft>)
  set_tests_properties(security_limits PROPERTIES TIMEOUT 300 LABELS integration)
endif()
