# Prometheus: Prometheus' linter on a live /metrics of nearftd on nearsim after load, and the alert
# rules of deploy/prometheus checked and unit-tested by promtool. Both exit 77 (skipped) when
# promtool (Debian package prometheus) is missing.
if(TARGET nearsim AND TARGET nearftd AND NF_NODE)
  add_test(NAME metrics_promtool
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/metrics_promtool.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd>)
  set_tests_properties(metrics_promtool PROPERTIES TIMEOUT 300 LABELS integration
                       SKIP_RETURN_CODE 77)
endif()
add_test(NAME prometheus_rules
         COMMAND ${CMAKE_SOURCE_DIR}/tests/deploy/prometheus_rules.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(prometheus_rules PROPERTIES TIMEOUT 60 LABELS unit SKIP_RETURN_CODE 77)
