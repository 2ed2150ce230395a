/* A setuid-root program for tests/escapes.rs, installed in an image (owned by root,
 * mode 4755, and with file capabilities where the test can set them) and run with
 * --user: `setuid FILE` prints its Uid and CapEff lines of /proc/self/status, then
 * "setuid(0): ok" or the error, then "create FILE: ok" or the error (FILE is in a
 * directory only root may write). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char line[256];
    FILE *status = fopen("/proc/self/status", "r");

    while (status && fgets(line, sizeof line, status))
        if (!strncmp(line, "Uid:", 4) || !strncmp(line, "CapEff:", 7))
            fputs(line, stdout);
    printf("setuid(0): %s\n", setuid(0) == 0 ? "ok" : strerror(errno));
    if (argc > 1) {
        int fd = open(argv[1], O_WRONLY | O_CREAT | O_EXCL, 0644);
        printf("create %s: %s\n", argv[1], fd >= 0 ? "ok" : strerror(errno));
    }
    return 0;
}
