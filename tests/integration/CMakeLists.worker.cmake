# worker_test: byparr-webengine-worker driven over its socket protocol against the
# local test site. Included by tests/integration/CMakeLists.txt.
if(TARGET byparr-webengine-worker)
    if(NOT TARGET GTest::gtest_main)
        find_package(GTest REQUIRED)
    endif()
    if(NOT TARGET Poco::JSON)
        find_package(Poco REQUIRED COMPONENTS Foundation Net JSON)
    endif()
    include(GoogleTest)
    add_executable(worker_test
        ${CMAKE_CURRENT_LIST_DIR}/worker_test.cpp
        ${CMAKE_CURRENT_LIST_DIR}/worker_client.cpp)
    target_include_directories(worker_test PRIVATE ${CMAKE_SOURCE_DIR})
    target_link_libraries(worker_test PRIVATE GTest::gtest_main Poco::JSON Poco::Net
        Poco::Foundation)
    target_link_libraries(worker_test PRIVATE byparr_test_support)
    if(TARGET byparr_warnings)
        target_link_libraries(worker_test PRIVATE byparr_warnings)
    endif()
    target_compile_definitions(worker_test PRIVATE
        BYPARR_WORKER_PATH="$<TARGET_FILE:byparr-webengine-worker>"
        BYPARR_RULES_PATH="${CMAKE_SOURCE_DIR}/share/byparr/challenges.json")
    add_dependencies(worker_test byparr-webengine-worker)
    if(TARGET byparr-test-site)
        add_dependencies(worker_test byparr-test-site)
    endif()
    gtest_discover_tests(worker_test DISCOVERY_TIMEOUT 60
        PROPERTIES TIMEOUT 180 LABELS "integration;webengine" RUN_SERIAL TRUE)
endif()
