# Cluster mode (--cluster) on a three-node NATS JetStream cluster started by the test on 127.0.0.1.
# Skipped (exit 77) when nats-server is not installed or nearftd was built without libnats.
if(TARGET nearsim AND TARGET nearftd AND NF_NODE)
  find_program(NF_NATS_SERVER nats-server PATHS /usr/sbin /usr/local/sbin /usr/bin)
  if(NOT NF_NATS_SERVER)
    set(NF_NATS_SERVER "")
  endif()
  if(NATS_FOUND)
    set(NF_HAS_LIBNATS 1)
  else()
    set(NF_HAS_LIBNATS 0)
  endif()
  add_test(NAME cluster_nats
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/cluster_nats.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> "${NF_NATS_SERVER}" ${NF_HAS_LIBNATS}
                   $<TARGET_FILE:notify_sink>)
  set_tests_properties(cluster_nats PROPERTIES TIMEOUT 600 LABELS integration SKIP_RETURN_CODE 77)
  # A standby relays connections to the lease holder (any instance takes transfers).
  add_test(NAME cluster_relay
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/cluster_relay.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> "${NF_NATS_SERVER}" ${NF_HAS_LIBNATS})
  set_tests_properties(cluster_relay PROPERTIES TIMEOUT 600 LABELS integration SKIP_RETURN_CODE 77)
  # A network partition between the lease holder and NATS (a TCP proxy that goes silent): the
  # standby takes over, the former holder is fenced when the partition heals and stops.
  add_test(NAME cluster_partition
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/cluster_partition.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> "${NF_NATS_SERVER}" ${NF_HAS_LIBNATS})
  set_tests_properties(cluster_partition PROPERTIES TIMEOUT 600 LABELS integration SKIP_RETURN_CODE 77)
  # TLS to NATS with client certificates, and the refusals of a wrong or missing one.
  add_test(NAME cluster_tls
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/cluster_tls.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> "${NF_NATS_SERVER}" ${NF_HAS_LIBNATS})
  set_tests_properties(cluster_tls PROPERTIES TIMEOUT 300 LABELS integration SKIP_RETURN_CODE 77)
  # The log and the lease's address authenticated with --cluster-secret-file.
  add_test(NAME cluster_secret
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/cluster_secret.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> "${NF_NATS_SERVER}" ${NF_HAS_LIBNATS})
  set_tests_properties(cluster_secret PROPERTIES TIMEOUT 300 LABELS integration SKIP_RETURN_CODE 77)
  # NATS user credentials (a .creds file) against a nats-server in operator (JWT) mode; the refusals
  # of no, foreign, expired and publish-denied credentials.
  add_test(NAME cluster_creds
           COMMAND ${NF_NODE} ${CMAKE_CURRENT_SOURCE_DIR}/cluster_creds.mjs
                   $<TARGET_FILE:nearsim> $<TARGET_FILE:nearftd> "${NF_NATS_SERVER}" ${NF_HAS_LIBNATS})
  set_tests_properties(cluster_creds PROPERTIES TIMEOUT 300 LABELS integration SKIP_RETURN_CODE 77)
endif()
