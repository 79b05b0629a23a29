/* without-io-uring EPERM|ENOSYS COMMAND [ARG...]: runs COMMAND where
 * io_uring_setup fails with that errno, as it does on a host that refuses
 * io_uring: EPERM with sysctl kernel.io_uring_disabled=2 (Linux 6.6 and
 * later) or Docker's default seccomp profile, ENOSYS on a kernel built
 * without it. A seccomp filter does it, so it works on any kernel and
 * without privileges (no_new_privs is set first); COMMAND and everything it
 * starts inherit the filter. The integration tests use it (the test host's
 * Linux 6.1 has no such sysctl). */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int errno_named(const char *name)
{
	if (strcmp(name, "EPERM") == 0)
		return EPERM;
	if (strcmp(name, "ENOSYS") == 0)
		return ENOSYS;
	return -1;
}

/* io_uring_setup fails with err; every other system call is allowed. A
 * call through another ABI (i386, x32) is let through: liburing on x86-64
 * makes the native call. */
static int deny_io_uring_setup(int err)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)err),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

int main(int argc, char **argv)
{
	int err = argc > 2 ? errno_named(argv[1]) : -1;

	if (err < 0) {
		fprintf(stderr, "usage: without-io-uring EPERM|ENOSYS COMMAND [ARG...]\n");
		return 2;
	}
	if (deny_io_uring_setup(err) < 0) {
		fprintf(stderr, "without-io-uring: seccomp filter: %s\n", strerror(errno));
		return 125;
	}
	execvp(argv[2], argv + 2);
	fprintf(stderr, "without-io-uring: %s: %s\n", argv[2], strerror(errno));
	return 127;
}
