# Running nearftd as a service: the notify protocol (a unix datagram socket standing in for
# systemd), the unit file (systemd-analyze), the Debian package and nginx as a TLS proxy.
if(TARGET nearftd)
  add_executable(notify_sink ${CMAKE_SOURCE_DIR}/tests/nearftd/notify_sink.c)
  add_test(NAME deploy_unit
           COMMAND ${CMAKE_SOURCE_DIR}/tests/deploy/verify_unit.sh
                   ${CMAKE_SOURCE_DIR}/deploy/systemd/nearftd.service $<TARGET_FILE:nearftd>)
  set_tests_properties(deploy_unit PROPERTIES TIMEOUT 60 LABELS "unit;deploy"
                       SKIP_RETURN_CODE 77)
endif()
if(TARGET nearsim AND TARGET nearftd AND TARGET nearft AND NF_NODE)
  add_test(NAME deploy_notify
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/deploy_notify.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> $<TARGET_FILE:notify_sink>)
  set_tests_properties(deploy_notify PROPERTIES TIMEOUT 300 LABELS "integration;deploy")
  add_test(NAME deploy_socket
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/deploy_socket.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd>)
  set_tests_properties(deploy_socket PROPERTIES TIMEOUT 300 LABELS "integration;deploy"
                       SKIP_RETURN_CODE 77)
  add_test(NAME deploy_nginx
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/deploy_nginx.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> $<TARGET_FILE:nearft>
                   ${CMAKE_SOURCE_DIR}/deploy/nginx/nearftd.conf)
  set_tests_properties(deploy_nginx PROPERTIES TIMEOUT 300 LABELS "integration;deploy"
                       SKIP_RETURN_CODE 77)
endif()
# The package: cpack -G DEB on this build, its contents, and the installed nearftd --help. Not in
# sanitizer builds, which are not shipped.
if(NOT NF_SANITIZE)
  add_test(NAME deploy_package
           COMMAND ${CMAKE_SOURCE_DIR}/tests/deploy/package.sh ${CMAKE_BINARY_DIR}
                   ${PROJECT_VERSION} ${CMAKE_INSTALL_PREFIX} ${CMAKE_INSTALL_DOCDIR}
                   ${CMAKE_INSTALL_MANDIR})
  set_tests_properties(deploy_package PROPERTIES TIMEOUT 300 LABELS "deploy;package"
                       SKIP_RETURN_CODE 77)
endif()
