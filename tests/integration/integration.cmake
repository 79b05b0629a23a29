# Integration tests: each runs a script on real KVM through tools/kvm-host
# (directly where /dev/kvm exists, inside a test host otherwise).
set(SKIFF_KVM_HOST ${CMAKE_SOURCE_DIR}/tools/kvm-host)
set(SKIFF_IT_DIR ${CMAKE_SOURCE_DIR}/tests/integration)
set(SKIFF_IT_ENV
  "SKIFF=${CMAKE_BINARY_DIR}/skiff;SKIFF_NET=${CMAKE_BINARY_DIR}/skiff-net;GUEST_ELF=${SKIFF_GUEST_ELF};WITHOUT_IO_URING=${CMAKE_CURRENT_BINARY_DIR}/without-io-uring")

# Runs a command where io_uring_setup fails, as on a host that refuses
# io_uring (test_bad_input.sh).
add_executable(without-io-uring ${SKIFF_IT_DIR}/without_io_uring.c)
target_link_libraries(without-io-uring PRIVATE skiff_flags)

# skiff_integration_test(NAME SCRIPT [KVM_HOST_ARGS...])
# ctest's limit is above kvm-host's own (boot <= 180 s, the command 780 s,
# then 60 s more for a test host that no longer answers), so that kvm-host
# reports a stuck test host itself before ctest kills it.
function(skiff_integration_test name script)
  add_test(NAME ${name}
    COMMAND ${SKIFF_KVM_HOST} ${ARGN} --timeout 780 -- ${SKIFF_IT_DIR}/${script}
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES LABELS integration TIMEOUT 1080
    ENVIRONMENT "${SKIFF_IT_ENV}")
endfunction()

skiff_integration_test(boot_tdp test_boot.sh --mmu tdp)
skiff_integration_test(boot_shadow test_boot.sh --mmu shadow)
skiff_integration_test(lifecycle test_lifecycle.sh --mmu tdp)
skiff_integration_test(terminal test_terminal.sh --mmu tdp)
skiff_integration_test(bad_input test_bad_input.sh --mmu tdp)
skiff_integration_test(qemu_boot test_qemu_boot.sh --mmu tdp)
skiff_integration_test(virtio test_virtio.sh --mmu tdp)
skiff_integration_test(virtio_net test_virtio_net.sh --mmu tdp)
skiff_integration_test(virtio_console test_virtio_console.sh --mmu tdp)
skiff_integration_test(linux_boot test_linux_boot.sh --mmu tdp --mem 3G)
skiff_integration_test(linux_virtio test_linux_virtio.sh --mmu tdp --mem 3G)
skiff_integration_test(linux_intx test_linux_intx.sh --mmu tdp --mem 3G)

# The guest alone under QEMU's software CPU: no KVM, so no kvm-host.
add_test(NAME guest_tcg COMMAND ${SKIFF_IT_DIR}/test_guest_tcg.sh ${SKIFF_GUEST_ELF}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(guest_tcg PROPERTIES LABELS integration TIMEOUT 600 SKIP_RETURN_CODE 77)

add_test(NAME guest_virtio_tcg COMMAND ${SKIFF_IT_DIR}/test_guest_virtio_tcg.sh ${SKIFF_GUEST_ELF}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(guest_virtio_tcg PROPERTIES LABELS integration TIMEOUT 600 SKIP_RETURN_CODE 77)
