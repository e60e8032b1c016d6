# The batch stage in isolation (tests/batch/test_batch.c): src/batch/batch.c with the job slab,
# rings, key pool and shared stage state, wired by the test itself (struct batch_wiring) instead
# of by the hub in src/pipeline.c. Included from tests/CMakeLists.txt.
if(TARGET nf_daemon_core AND EXISTS ${CMAKE_SOURCE_DIR}/src/batch/batch.c)
  add_executable(test_batch ${CMAKE_CURRENT_LIST_DIR}/test_batch.c
                 ${CMAKE_SOURCE_DIR}/src/batch/batch.c ${CMAKE_SOURCE_DIR}/src/job.c
                 ${CMAKE_SOURCE_DIR}/src/ring.c ${CMAKE_SOURCE_DIR}/src/keypool.c
                 ${CMAKE_SOURCE_DIR}/src/stages.c)
  target_include_directories(test_batch PRIVATE ${CMAKE_SOURCE_DIR}/tests ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(test_batch PRIVATE nf_daemon_core nf_pure PkgConfig::EVENT PkgConfig::CK
                        Threads::Threads)
  add_test(NAME test_batch COMMAND test_batch)
  set_tests_properties(test_batch PROPERTIES TIMEOUT 120 LABELS unit)
endif()
