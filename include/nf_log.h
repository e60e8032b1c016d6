/* nf_log: logfmt event lines on stderr, one write(2) per event:
 *   ts=2026-11-27T01:02:03.456Z lvl=info thr=ingest-0 mod=wal msg="segment rotated" seq=12
 * NF_LOG(level, mod, fmt, ...) checks the level BEFORE its arguments are evaluated. fmt holds the
 * message text, optionally followed by key=value pairs: the text before the first `word=` becomes
 * msg="..." (quoted and escaped), the pairs are copied as written (quote values that may contain
 * spaces yourself: err=\"%s\"); newlines and other control bytes are escaped so an event is always
 * one line. Lines are cut at NF_LOG_LINE_MAX bytes (< PIPE_BUF, so a line is written atomically).
 * Any thread; the thread name is thread-local (log_set_thread), the level is global and set once
 * at start-up (log_set_level) before threads start. Hot paths count, they do not log. */
#ifndef NF_LOG_H
#define NF_LOG_H

enum nf_log_level {
    NF_LOG_DEBUG = 0,
    NF_LOG_INFO = 1,
    NF_LOG_WARN = 2,
    NF_LOG_ERROR = 3,
};

#define NF_LOG_LINE_MAX 2048

/* The active level; read by NF_LOG without a function call. Written only by log_set_level. */
extern int nf_log_level_current;

/* log_set_level: events below level are dropped. Start-up only (not synchronised). */
void log_set_level(int level);
/* log_level_parse: "debug"|"info"|"warn"|"error" → 0..3, or NF_EINVAL. */
int log_level_parse(const char *s);
/* log_level_name: "debug", "info", "warn", "error" (static); "?" otherwise. */
const char *log_level_name(int level);
/* log_set_thread: names the calling thread in its lines (copied, up to 31 bytes). Default "main".
 */
void log_set_thread(const char *name);
/* log_set_fd: where lines go (default 2 = stderr). Start-up and tests only. */
void log_set_fd(int fd);
/* log_detect_journal: when the log fd is the stream systemd's journal handed the service
 * (JOURNAL_STREAM=dev:ino names it), every line starts with its syslog priority, "<3>" error,
 * "<4>" warn, "<6>" info, "<7>" debug, so `journalctl -p err` can filter. Returns 1 when on.
 * Start-up only, after log_set_fd. */
int log_detect_journal(void);

/* log_emit: formats and writes one line. Use NF_LOG, which skips disabled levels for free. */
void log_emit(int level, const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* log_format_line: the formatter behind log_emit, exposed for tests: writes the line (with a
 * trailing '\n', without NUL termination guarantees beyond cap) for a preformatted body into
 * out[0..cap) and returns its length. ts_ms is milliseconds since the Unix epoch. */
int log_format_line(char *out,
                    int cap,
                    long long ts_ms,
                    int level,
                    const char *thr,
                    const char *mod,
                    const char *body);

#define NF_LOG(level, mod, ...)                                                                    \
    do {                                                                                           \
        if ((level) >= nf_log_level_current)                                                       \
            log_emit((level), (mod), __VA_ARGS__);                                                 \
    } while (0)

#endif
