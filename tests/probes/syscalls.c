/* tests/probes/syscalls.c: calls what the default seccomp filter denies and what it
 * allows, and prints "NAME ERRNO" for each, 0 for success (tests/seccomp.rs). Raw
 * syscall(2) throughout, so that no C library wrapper or fallback hides an answer. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *name, long ret)
{
    printf("%s %d\n", name, ret < 0 ? errno : 0);
}

int main(void)
{
    /* Unbuffered: where no filter stands in the way, 32-bit ARM's kernel answers a
     * number past its table with SIGILL, and the lines before must not die with it. */
    setvbuf(stdout, NULL, _IONBF, 0);
    /* KEYCTL_GET_KEYRING_ID of KEY_SPEC_SESSION_KEYRING, not created. */
    say("keyctl", syscall(SYS_keyctl, 0, -3, 0));
    /* An invalid command: EINVAL without a filter. */
    say("bpf", syscall(SYS_bpf, -1, 0, 0));
    /* A null attr: EFAULT without a filter. */
    say("perf_event_open", syscall(SYS_perf_event_open, 0, 0, -1, -1, 0));
    say("unshare_user", syscall(SYS_unshare, CLONE_NEWUSER));
    say("unshare_uts", syscall(SYS_unshare, CLONE_NEWUTS));
    /* A size of 0: EINVAL without a filter. */
    say("clone3", syscall(SYS_clone3, 0, 0));
    say("unknown", syscall(1000));
    /* getpid through the x32 ABI. */
    say("x32", syscall(0x40000000 | 39));
    int vsock = syscall(SYS_socket, 40, SOCK_STREAM, 0);
    say("socket_vsock", vsock);
    int alg = syscall(SYS_socket, 38, SOCK_SEQPACKET, 0);
    say("socket_alg", alg);
    int inet = syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
    say("socket_inet", inet);
    say("getpid", syscall(SYS_getpid));
    say("personality_query", syscall(SYS_personality, 0xffffffff));
    /* A plain fork through clone. */
    long child = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (child == 0)
        _exit(7);
    int status = 0;
    if (child > 0 && waitpid(child, &status, 0) == child && WEXITSTATUS(status) == 7)
        say("clone_fork", 0);
    else if (child < 0)
        say("clone_fork", -1);
    else
        printf("clone_fork lost its child\n");
    return 0;
}
