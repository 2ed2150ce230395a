/* The client side of tests/bench/publish.sh: times round trips to an echo service
 * (tests/probes/echo.c) and prints the mean in microseconds.
 *   netprobe tcp-rtt HOST PORT N      N round trips of 64 bytes on one connection
 *   netprobe tcp-connect HOST PORT N  N times: connect, one round trip, close
 *   netprobe udp-rtt HOST PORT N      N datagram round trips of 64 bytes
 *   netprobe hold HOST PORT K SECS    K connections, each with a round trip, held open */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in to;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int connected(int type)
{
    int one = 1, s = socket(AF_INET, type, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&to, sizeof to) < 0)
        die("netprobe: connect");
    if (type == SOCK_STREAM)
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return s;
}

static void round_trip(int s)
{
    char out[64], in[64];
    size_t got = 0;
    memset(out, 'q', sizeof out);
    if (write(s, out, sizeof out) != sizeof out)
        die("netprobe: write");
    while (got < sizeof in) {
        ssize_t n = read(s, in + got, sizeof in - got);
        if (n <= 0)
            die("netprobe: read");
        got += n;
    }
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: netprobe tcp-rtt|tcp-connect|udp-rtt|hold HOST PORT N [SECS]\n");
        return 2;
    }
    const char *mode = argv[1];
    int n = atoi(argv[4]);
    to.sin_family = AF_INET;
    to.sin_port = htons(atoi(argv[3]));
    if (inet_pton(AF_INET, argv[2], &to.sin_addr) != 1 || n <= 0) {
        fprintf(stderr, "netprobe: bad HOST or N\n");
        return 2;
    }
    double start = now_us();
    if (!strcmp(mode, "tcp-rtt") || !strcmp(mode, "udp-rtt")) {
        int udp = mode[0] == 'u';
        int s = connected(udp ? SOCK_DGRAM : SOCK_STREAM);
        if (udp) {
            struct timeval wait = { .tv_sec = 2 };
            setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
        }
        round_trip(s); /* warm up: the first datagram makes the forwarder's flow */
        start = now_us();
        for (int i = 0; i < n; i++)
            round_trip(s);
    } else if (!strcmp(mode, "tcp-connect")) {
        for (int i = 0; i < n; i++) {
            int s = connected(SOCK_STREAM);
            round_trip(s);
            close(s);
        }
    } else if (!strcmp(mode, "hold") && argc > 5) {
        for (int i = 0; i < n; i++)
            round_trip(connected(SOCK_STREAM));
        printf("holding\n");
        fflush(stdout);
        sleep(atoi(argv[5]));
        return 0;
    } else {
        fprintf(stderr, "netprobe: unknown mode %s\n", mode);
        return 2;
    }
    printf("%.1f\n", (now_us() - start) / n);
    return 0;
}
