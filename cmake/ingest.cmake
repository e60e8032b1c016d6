# Ingest stage extras (owned by the ingest area): the ingest HTTP test, which links the ingest
# sources against a stub pipeline instead of nf_daemon's real one, and the `ceiling` bench (a bare
# evhttp server answering 202, the reference for the ingest throughput goal).
# src/ingest/ingest.c and src/ingest/http_api.c are added to nf_daemon by cmake/nearftd.cmake.

set(NF_INGEST_SRCS "")
foreach(f src/ingest/ingest.c src/ingest/http_api.c)
  if(EXISTS ${CMAKE_SOURCE_DIR}/${f})
    list(APPEND NF_INGEST_SRCS ${CMAKE_SOURCE_DIR}/${f})
  endif()
endforeach()

add_executable(ceiling ${CMAKE_SOURCE_DIR}/perf/ceiling.c)
target_link_libraries(ceiling PRIVATE PkgConfig::EVENT Threads::Threads)

if(NF_INGEST_SRCS AND EXISTS ${CMAKE_SOURCE_DIR}/tests/ingest/test_ingest_http.c
   AND TARGET nf_daemon_core AND EXISTS ${CMAKE_SOURCE_DIR}/include/cfg.h)
  add_executable(test_ingest_http ${CMAKE_SOURCE_DIR}/tests/ingest/test_ingest_http.c
                 ${NF_INGEST_SRCS} ${CMAKE_SOURCE_DIR}/src/job.c ${CMAKE_SOURCE_DIR}/src/ring.c)
  target_include_directories(test_ingest_http PRIVATE ${CMAKE_SOURCE_DIR}/tests
                             ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(test_ingest_http PRIVATE nf_daemon_core nf_pure PkgConfig::EVENT
                        PkgConfig::CK PkgConfig::CURL PkgConfig::JANSSON PkgConfig::SODIUM
                        Threads::Threads)
  add_test(NAME test_ingest_http COMMAND test_ingest_http)
  set_tests_properties(test_ingest_http PROPERTIES TIMEOUT 120 LABELS unit)
endif()
