/* raw_sock: the raw-socket client both wire tests use (test_hsrv, test_ingest_http): connect to
 * 127.0.0.1:port and send every byte. Blocking; the calling test thread owns the descriptor. */
#ifndef NF_TEST_RAW_SOCK_H
#define NF_TEST_RAW_SOCK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* raw_sock_connect: a connected TCP socket to 127.0.0.1:port, or -1. */
static inline int raw_sock_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(0x7f000001);
    if (fd == -1 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (fd != -1)
            close(fd);
        return -1;
    }
    return fd;
}

/* raw_sock_send: all n bytes of b (no SIGPIPE); 0, or -1 when the peer is gone. */
static inline int raw_sock_send(int fd, const char *b, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

#endif
