# Ingest stage extras (owned by the ingest area): the ingest HTTP test, which links the ingest
# sources against a stub pipeline instead of nf_daemon's real one, and the `ceiling` bench (a bare
# evhttp server answering 202, the reference for the ingest throughput goal).
# src/ingest/ingest.c and src/ingest/http_api.c are added to nf_daemon by cmake/nearftd.cmake.

set(NF_INGEST_SRCS "")
foreach(f src/ingest/ingest.c src/ingest/http_api.c src/ingest/http_parse.c src/ingest/hsrv.c)
  if(EXISTS ${CMAKE_SOURCE_DIR}/${f})
    list(APPEND NF_INGEST_SRCS ${CMAKE_SOURCE_DIR}/${f})
  endif()
endforeach()
# Ingest files beyond the two nearftd.cmake lists.
if(TARGET nf_daemon)
  target_sources(nf_daemon PRIVATE ${CMAKE_SOURCE_DIR}/src/ingest/http_parse.c
                                   ${CMAKE_SOURCE_DIR}/src/ingest/hsrv.c)
endif()

add_executable(ceiling ${CMAKE_SOURCE_DIR}/perf/ceiling.c)
target_link_libraries(ceiling PRIVATE PkgConfig::EVENT Threads::Threads)

if(NF_INGEST_SRCS AND EXISTS ${CMAKE_SOURCE_DIR}/tests/ingest/test_ingest_http.c
   AND TARGET nf_daemon_core AND EXISTS ${CMAKE_SOURCE_DIR}/include/cfg.h)
  # The ingest sources plus the stub pipeline, as one object library both executables share.
  add_library(nf_ingest_stub OBJECT ${NF_INGEST_SRCS} ${CMAKE_SOURCE_DIR}/src/job.c
              ${CMAKE_SOURCE_DIR}/src/ring.c ${CMAKE_SOURCE_DIR}/tests/ingest/stub_pipeline.c)
  target_include_directories(nf_ingest_stub PRIVATE ${CMAKE_SOURCE_DIR}/tests/ingest
                             ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(nf_ingest_stub PRIVATE PkgConfig::EVENT PkgConfig::CK PkgConfig::SODIUM)
  foreach(exe test_ingest_http ingest_loadstub)
    add_executable(${exe} ${CMAKE_SOURCE_DIR}/tests/ingest/${exe}.c
                   $<TARGET_OBJECTS:nf_ingest_stub>)
    target_include_directories(${exe} PRIVATE ${CMAKE_SOURCE_DIR}/tests
                               ${CMAKE_SOURCE_DIR}/tests/ingest ${CMAKE_SOURCE_DIR}/src)
    target_link_libraries(${exe} PRIVATE nf_daemon_core nf_pure PkgConfig::EVENT PkgConfig::CK
                          PkgConfig::CURL PkgConfig::JANSSON PkgConfig::SODIUM Threads::Threads)
  endforeach()
  add_test(NAME test_ingest_http COMMAND test_ingest_http)
  set_tests_properties(test_ingest_http PROPERTIES TIMEOUT 120 LABELS unit)
endif()
