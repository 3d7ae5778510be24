# byparrctl against the real server, with the echo-solver fixture and the
# in-tree cookie-import and proxy-rotation plugins. Included from
# tests/integration/CMakeLists.txt (uses BYPARR_IT_DEFS from there).
if(TARGET byparrctl AND TARGET byparr_cookie_import AND TARGET byparr_proxy_rotation
   AND TARGET byparr-test-proxy)
    add_executable(admin_cli_test admin_cli_test.cpp)
    target_link_libraries(admin_cli_test PRIVATE byparr_test_support GTest::gtest_main
        Poco::Net Poco::JSON byparr_flags)
    target_compile_definitions(admin_cli_test PRIVATE ${BYPARR_IT_DEFS})
    add_dependencies(admin_cli_test byparr byparrctl byparr_fixture_plugins
        byparr_cookie_import byparr_proxy_rotation byparr-test-proxy)
    gtest_discover_tests(admin_cli_test DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 120)
endif()
