/* An echo service for the published-port tests and tests/bench/publish.sh, since
 * busybox's nc has no UDP and listens with a backlog of one: `echo PORT` prints
 * "echo up" once it listens on TCP and UDP PORT, then sends back every datagram and
 * everything each connection writes (one process per connection). */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[65536];

static int bound(int type, int port)
{
    struct sockaddr_in at = { .sin_family = AF_INET, .sin_port = htons(port) };
    int one = 1, s = socket(AF_INET, type, 0);

    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s < 0 || bind(s, (struct sockaddr *)&at, sizeof at) < 0) {
        perror("echo: bind");
        exit(1);
    }
    return s;
}

static void echo_datagrams(int s)
{
    for (;;) {
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
        if (n >= 0)
            sendto(s, buf, n, 0, (struct sockaddr *)&from, len);
    }
}

static void echo_stream(int c)
{
    ssize_t n;
    while ((n = read(c, buf, sizeof buf)) > 0)
        for (ssize_t done = 0, w; done < n; done += w)
            if ((w = write(c, buf + done, n - done)) <= 0)
                _exit(1);
    _exit(0);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 7;
    int tcp = bound(SOCK_STREAM, port), udp = bound(SOCK_DGRAM, port);

    if (listen(tcp, 128) < 0) {
        perror("echo: listen");
        return 1;
    }
    signal(SIGCHLD, SIG_IGN); /* connections' processes reap themselves */
    printf("echo up\n");
    fflush(stdout);
    if (fork() == 0)
        echo_datagrams(udp);
    for (;;) {
        int c = accept(tcp, NULL, NULL);
        if (c < 0)
            continue;
        if (fork() == 0)
            echo_stream(c);
        close(c);
    }
}
