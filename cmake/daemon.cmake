# nf_daemon_core: the daemon's pure, reusable modules (config, logging, request
# bodies, JSON-RPC build/parse). No threads, no sockets; unit tests and fuzzers link it directly.
# Included from the root CMakeLists.txt. Other areas add their sources with
# target_sources(nf_daemon_core PRIVATE ...) from their own cmake/<area>.cmake, included below.
set(NF_DAEMON_CORE_SRCS "")
foreach(f src/cfg.c src/log.c src/ingest/req_json.c src/submit/rpc.c)
  if(EXISTS ${CMAKE_SOURCE_DIR}/${f})
    list(APPEND NF_DAEMON_CORE_SRCS ${CMAKE_SOURCE_DIR}/${f})
  endif()
endforeach()
add_library(nf_daemon_core STATIC ${NF_DAEMON_CORE_SRCS})
target_include_directories(nf_daemon_core PUBLIC ${CMAKE_SOURCE_DIR}/include)
target_link_libraries(nf_daemon_core PUBLIC nf_pure Threads::Threads)

if(EXISTS ${CMAKE_SOURCE_DIR}/cmake/wal.cmake)
  include(${CMAKE_SOURCE_DIR}/cmake/wal.cmake)
endif()

# libFuzzer needs coverage instrumentation in the code under test, not only in the harness.
if(NF_FUZZ)
  target_compile_options(nf_daemon_core PRIVATE -fsanitize=fuzzer-no-link)
endif()
