# Registers the tests of tools/kvm-host (the way Skiff's tests reach a real
# /dev/kvm) with ctest. Included from the tests' CMakeLists.txt.
add_test(NAME kvm_host
  COMMAND ${CMAKE_SOURCE_DIR}/tests/integration/test_kvm_host.sh
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(kvm_host PROPERTIES LABELS integration TIMEOUT 900)
