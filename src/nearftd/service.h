/* service: nearftd's side of the service manager's notify protocol (systemd's sd_notify, also
 * spoken by other supervisors that set NOTIFY_SOCKET). Without NOTIFY_SOCKET every call is a
 * no-op, so nearftd runs the same under a shell, a test harness or systemd Type=notify.
 *
 * The watchdog: when the manager asks for pings (WATCHDOG_USEC, sd_watchdog_enabled), one thread
 * sends WATCHDOG=1 every WATCHDOG_USEC/2, but only while nearftd is alive. "Alive" means: a
 * GET /health sent by that thread to nearftd's own listener gets an answer (200 healthy or 503
 * degraded) within a quarter of WATCHDOG_USEC. That proves the ingest event loop serving the
 * probe answers and the pipeline's published state is readable. The probe keeps one keep-alive
 * connection (nearftd closes idle ones only after --wait-timeout-ms + 60 s), so a listener that
 * pauses accepting because --max-connections is reached, an overload rather than a hang, does not
 * stop the pings. A degraded service (RPC down, out of
 * funds) stays alive on purpose: a restart would not cure it, /health and the alerts report it.
 * A hung or wedged listener stops the pings and the manager restarts nearftd, which replays its
 * log and resumes every accepted transfer exactly once. */
#ifndef NF_SERVICE_H
#define NF_SERVICE_H

#include <stddef.h>

/* service_status: sends STATUS=<text> (printf-style, one line). Any thread. */
__attribute__((format(printf, 1, 2))) void service_status(const char *fmt, ...);

/* service_ready: READY=1 with a STATUS naming listen and the bound port. Main thread, once the
 * listener answers and the log replay is done. */
void service_ready(const char *listen, unsigned port);

/* service_standby: a cluster standby is waiting for the log's lease. At most every
 * SERVICE_STANDBY_EVERY_MS it sends a STATUS saying so and EXTEND_TIMEOUT_USEC, so that a
 * manager's start timeout does not stop a standby that waits for as long as the holder lives.
 * Start-up thread (the replay's, through main's standby hook). */
void service_standby(void);

/* service_listen_fd: the listening socket a service manager passed (socket activation: systemd's
 * LISTEN_FDS and LISTEN_PID, sd_listen_fds; both are unset afterwards), when it passed exactly
 * one listening TCP socket: returns it (the caller owns it) with its address "HOST:PORT"
 * ("[V6]:PORT") in addr[0..cap). -1 when none was passed; NF_ECONFIG with the reason in
 * why[0..whycap) when several were, or one that is not a listening IPv4 or IPv6 stream socket.
 * Main thread, at start. */
int service_listen_fd(char *addr, size_t cap, char *why, size_t whycap);

struct service_watchdog;

/* service_stopping: STOPPING=1 with a STATUS; after it w (NULL-safe) sends no more pings. Main
 * thread, when a stop signal arrived, before service_watchdog_stop. */
void service_stopping(struct service_watchdog *w);

/* service_watchdog_start: starts the ping thread when the manager asked for a watchdog; probes
 * the listener named by listen (a wildcard host is probed on loopback) at port. Returns the
 * watchdog (owned by the caller, release with service_watchdog_stop), or NULL with *err = 0 when
 * no watchdog is wanted, or NULL with a negative nf_err. Borrows listen until return. Main. */
struct service_watchdog *service_watchdog_start(const char *listen, unsigned port, int *err);

/* service_watchdog_stop: stops and joins the ping thread and frees w. NULL-safe. Main thread. */
void service_watchdog_stop(struct service_watchdog *w);

#endif
