# nf_daemon: nearftd's threaded pipeline (ingest, batch, sign, submit, the WAL hub) and the
# nearftd executable. Sources are listed only when present so the tree builds while stages land.
set(NF_DAEMON_SRCS "")
foreach(f src/ring.c src/job.c src/stages.c src/pipeline.c src/keypool.c
          src/ingest/ingest.c src/ingest/http_api.c
          src/batch/batch.c src/sign/sign.c src/submit/submit.c src/submit/breaker.c)
  if(EXISTS ${CMAKE_SOURCE_DIR}/${f})
    list(APPEND NF_DAEMON_SRCS ${CMAKE_SOURCE_DIR}/${f})
  endif()
endforeach()
add_library(nf_daemon STATIC ${NF_DAEMON_SRCS})
target_link_libraries(nf_daemon PUBLIC nf_daemon_core nf_pure PkgConfig::EVENT PkgConfig::CURL
                      PkgConfig::CK PkgConfig::MSGPACK PkgConfig::SODIUM Threads::Threads)
if(EXISTS ${CMAKE_SOURCE_DIR}/src/main_nearftd.c)
  add_executable(nearftd ${CMAKE_SOURCE_DIR}/src/main_nearftd.c)
  target_link_libraries(nearftd PRIVATE nf_daemon)
endif()
