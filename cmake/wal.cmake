# WAL: record codec (src/wal_rec.c, pure) and the writer thread, segments and replay (src/wal.c),
# added to nf_daemon_core (created by cmake/daemon.cmake, which includes this file at its end).
# Also builds perf/bench_wal (never a timed test; prints name=value unit lines).
target_sources(nf_daemon_core PRIVATE ${CMAKE_SOURCE_DIR}/src/wal_rec.c)
if(EXISTS ${CMAKE_SOURCE_DIR}/src/wal.c)
  target_sources(nf_daemon_core PRIVATE ${CMAKE_SOURCE_DIR}/src/wal.c)
endif()
target_link_libraries(nf_daemon_core PUBLIC PkgConfig::MSGPACK PkgConfig::CK Threads::Threads)

if(EXISTS ${CMAKE_SOURCE_DIR}/perf/bench_wal.c)
  add_executable(bench_wal ${CMAKE_SOURCE_DIR}/perf/bench_wal.c)
  target_link_libraries(bench_wal PRIVATE nf_daemon_core Threads::Threads)
endif()
