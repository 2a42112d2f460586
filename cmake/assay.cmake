include(GoogleTest)

# Project-wide CMake helpers.

# Warnings for the project's own targets (not third-party code).
function(assay_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()

# assay_library(NAME SOURCES ...): one static library per folder, includes from the repo root.
function(assay_library name)
  add_library(${name} STATIC ${ARGN})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/generated)
  assay_warnings(${name})
endfunction()

# assay_test(NAME SOURCES ... LIBS ... [LABELS ...]): one GoogleTest binary, registered with CTest.
# Tests run from the repository root and see ASSAY_SOURCE_DIR / ASSAY_BINARY_DIR.
function(assay_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    ASSAY_SOURCE_DIR="${PROJECT_SOURCE_DIR}" ASSAY_BINARY_DIR="${PROJECT_BINARY_DIR}")
  assay_warnings(${name})
  # Each TEST becomes its own CTest test, so a skip is reported as a skip and never hides a
  # failure next to it.
  set(props SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
  if(T_LABELS)
    list(APPEND props LABELS "${T_LABELS}")
  endif()
  gtest_discover_tests(${name} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    EXTRA_ARGS --gtest_color=no DISCOVERY_TIMEOUT 60 PROPERTIES ${props})
endfunction()
