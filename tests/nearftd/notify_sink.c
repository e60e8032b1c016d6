/* notify_sink: stands in for the service manager's end of the notify protocol in tests. Binds a
 * unix datagram socket at argv[1] (the path a test puts in NOTIFY_SOCKET), prints "bound" once it
 * can receive, then prints each datagram as one line (its newlines shown as " | ") on stdout until
 * SIGTERM/SIGINT or stdin closes. Single thread; owns the socket and unlinks the path on exit. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: notify_sink SOCKET_PATH\n");
        return 2;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "notify_sink: path too long\n");
        return 2;
    }
    strcpy(sa.sun_path, argv[1]);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd == -1 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
        perror("notify_sink: socket/bind");
        return 1;
    }
    struct sigaction act = {.sa_handler = on_signal};
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    printf("bound\n");
    fflush(stdout);
    char buf[4096];
    while (!stop) {
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
        int n = poll(p, 2, -1);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            char c;
            if (read(0, &c, 1) <= 0)
                break; /* the test went away */
        }
        if (!(p[0].revents & POLLIN))
            continue;
        ssize_t len = recv(fd, buf, sizeof(buf) - 1, 0);
        if (len <= 0)
            continue;
        buf[len] = '\0';
        for (ssize_t i = 0; i < len; i++)
            if (buf[i] == '\n')
                fputs(" | ", stdout);
            else
                fputc(buf[i], stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    close(fd);
    unlink(argv[1]);
    return 0;
}
