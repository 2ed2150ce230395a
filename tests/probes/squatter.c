/* What a process that is not qing can do to take a container's name, for
 * tests/claims.rs: `squatter NAME` binds the abstract unix socket @qing/NAME (the
 * claim of qing before 0.2, which any account or host-network container could take),
 * then tries to create and lock qing's claim file, /run/qing/names/NAME. It prints one
 * line per attempt ("abstract: bound", "claim file: Permission denied", ...), then
 * "squatting", and holds what it got until its stdin closes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void say(const char *what, int ok)
{
    printf("%s: %s\n", what, ok ? "bound" : strerror(errno));
}

int main(int argc, char **argv)
{
    struct sockaddr_un at = { .sun_family = AF_UNIX };
    char path[256];
    char buf[1];
    int s, f;
    socklen_t len;

    if (argc != 2 || strlen(argv[1]) > 64)
        return 2;
    /* Abstract: a leading NUL, then the name, with no terminator. */
    len = snprintf(at.sun_path + 1, sizeof at.sun_path - 1, "qing/%s", argv[1]);
    s = socket(AF_UNIX, SOCK_DGRAM, 0);
    say("abstract", s >= 0 &&
        bind(s, (struct sockaddr *)&at, offsetof(struct sockaddr_un, sun_path) + 1 + len) == 0);

    snprintf(path, sizeof path, "/run/qing/names/%s", argv[1]);
    f = open(path, O_RDWR | O_CREAT, 0666);
    if (f >= 0) {
        struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        printf("claim file: %s\n", fcntl(f, F_OFD_SETLK, &lock) == 0 ? "locked" : strerror(errno));
    } else {
        printf("claim file: %s\n", strerror(errno));
    }
    printf("squatting\n");
    fflush(stdout);
    while (read(0, buf, 1) > 0)
        ;
    return 0;
}
