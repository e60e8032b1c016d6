/* addr: socket addresses for ingest's listeners and a standby's relay (relay.c): resolving a
 * listen or target host and reading back the port a socket was bound to. Blocking (getaddrinfo);
 * set-up code only, any thread. Owns nothing past a call. */
#ifndef NF_INGEST_ADDR_H
#define NF_INGEST_ADDR_H

#include <stdint.h>
#include <sys/socket.h>

/* ingest_resolve: host ("" = every interface when passive) and port into *sa / *len (the first
 * getaddrinfo answer, TCP; passive: an address to listen on). 0, or getaddrinfo's non-zero error
 * code (gai_strerror names it). */
int ingest_resolve(
    const char *host, uint16_t port, int passive, struct sockaddr_storage *sa, socklen_t *len);

/* ingest_bound_port: the local port of socket fd (getsockname), or 0. */
uint16_t ingest_bound_port(int fd);

#endif
