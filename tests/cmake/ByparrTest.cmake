# byparr_test(): the one way a test executable is built and registered, unit or integration.
#
#   byparr_test(<name> SOURCES <files...> [LIBS <libs...>] [DEPENDS <targets...>]
#               [HOST | BROWSER] [TIMEOUT <s>] [LABELS <labels...>] [PROPERTIES <props...>]
#               [CTEST_NAME <test>] [NO_SANITIZERS] [OWN_MAIN])
#
# HOST     drives the real host: byparr_test_support, built after the host and the fixture
#          plugins; TIMEOUT 120.
# BROWSER  HOST with the browser plugins, their workers and the fixture sites; TIMEOUT 300
#          and RUN_SERIAL, because the browser tests share two cores.
# CTEST_NAME  one ctest test of that name running the executable, instead of one per gtest
#          case (a test that brings its own main, or sets its own environment).
# NO_SANITIZERS  byparr_warnings instead of byparr_flags: a test that runs Qt WebEngine in
#          its own process, whose Chromium allocator does not mix with ASan.
# OWN_MAIN  GTest::gtest instead of GTest::gtest_main.
#
# Every test sees the build tree's paths through byparr_build_paths
# (byparr/build_paths.h), and nothing else from the build.
function(byparr_test name)
    cmake_parse_arguments(ARG "HOST;BROWSER;NO_SANITIZERS;OWN_MAIN" "TIMEOUT;CTEST_NAME"
        "SOURCES;LIBS;DEPENDS;LABELS;PROPERTIES" ${ARGN})
    if(ARG_UNPARSED_ARGUMENTS)
        message(FATAL_ERROR "byparr_test(${name}): unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
    endif()
    add_executable(${name} ${ARG_SOURCES})
    set(main GTest::gtest_main)
    if(ARG_OWN_MAIN)
        set(main GTest::gtest)
    endif()
    set(flags byparr_flags)
    if(ARG_NO_SANITIZERS)
        set(flags byparr_warnings)
    endif()
    target_link_libraries(${name} PRIVATE ${ARG_LIBS} byparr_build_paths ${main} ${flags})

    set(timeout 120)
    set(props "")
    if(ARG_HOST OR ARG_BROWSER)
        target_link_libraries(${name} PRIVATE byparr_test_support Poco::Net Poco::JSON)
        add_dependencies(${name} byparr byparr_fixture_plugins)
    endif()
    if(ARG_BROWSER)
        target_link_libraries(${name} PRIVATE byparr_core)
        add_dependencies(${name} byparr_webengine byparr-webengine-worker byparr_chromium
            byparr-chromium-worker byparr-test-site byparr-test-proxy)
        set(timeout 300)
        list(APPEND props RUN_SERIAL TRUE)
    endif()
    if(ARG_DEPENDS)
        add_dependencies(${name} ${ARG_DEPENDS})
    endif()
    if(ARG_TIMEOUT)
        set(timeout ${ARG_TIMEOUT})
    endif()
    if(ARG_LABELS)
        # Escaped so that the list reaches the test as one LABELS value.
        string(REPLACE ";" "\\;" labels "${ARG_LABELS}")
        list(APPEND props LABELS "${labels}")
    endif()
    list(APPEND props ${ARG_PROPERTIES})

    if(ARG_CTEST_NAME)
        add_test(NAME ${ARG_CTEST_NAME} COMMAND ${name})
        set_tests_properties(${ARG_CTEST_NAME} PROPERTIES TIMEOUT ${timeout} ${props})
    else()
        gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT ${timeout} ${props})
    endif()
endfunction()
