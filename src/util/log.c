/* log: logfmt event lines (see include/nf_log.h). Each event is formatted into a stack buffer and
 * written with one write(2) to the log fd, so lines from different threads never interleave. The
 * thread name is a thread-local copy; the level is a plain global set once before threads start.
 * Owns no heap memory. */
#include "nf_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nf_err.h"

int nf_log_level_current = NF_LOG_INFO;
static int log_fd = 2;
static int log_journal; /* prefix lines with "<priority>" (log_detect_journal) */
static _Thread_local char thread_name[32] = "main";

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(int level)
{
    nf_log_level_current = level;
}

int log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return NF_EINVAL;
}

const char *log_level_name(int level)
{
    return level >= 0 && level < 4 ? level_names[level] : "?";
}

void log_set_thread(const char *name)
{
    size_t n = 0;
    /* Keep names one logfmt word: no spaces, quotes or control bytes. */
    for (; name[n] != '\0' && n < sizeof(thread_name) - 1; n++) {
        unsigned char c = (unsigned char)name[n];
        thread_name[n] = (c > 0x20 && c < 0x7f && c != '"' && c != '=') ? (char)c : '_';
    }
    thread_name[n] = '\0';
}

void log_set_fd(int fd)
{
    log_fd = fd;
}

int log_detect_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev = 0, ino = 0;
    struct stat st;
    log_journal = js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
                  fstat(log_fd, &st) == 0 && (unsigned long long)st.st_dev == dev &&
                  (unsigned long long)st.st_ino == ino;
    return log_journal;
}

struct buf {
    char *p;
    int cap; /* bytes usable before the final '\n' */
    int len;
};

static void put(struct buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n && b->len < b->cap; i++)
        b->p[b->len++] = s[i];
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* put_escaped: control bytes become \n \t \r or \u00XX; with quoted != 0 also '"' and '\\'. */
static void put_escaped(struct buf *b, const char *s, size_t n, int quoted)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[8];
        if (c == '\n')
            put(b, "\\n", 2);
        else if (c == '\t')
            put(b, "\\t", 2);
        else if (c == '\r')
            put(b, "\\r", 2);
        else if (c < 0x20 || c == 0x7f) {
            snprintf(e, sizeof(e), "\\u%04x", c);
            put(b, e, 6);
        } else if (quoted && (c == '"' || c == '\\')) {
            e[0] = '\\';
            e[1] = (char)c;
            put(b, e, 2);
        } else {
            put(b, (const char *)&s[i], 1);
        }
    }
}

static int is_key_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/* kv_start: offset of the first " key=" pair in body (or 0 when body starts with one), else the
 * body length. */
static size_t kv_start(const char *body, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && body[i - 1] != ' ')
            continue;
        size_t j = i;
        while (j < n && is_key_char((unsigned char)body[j]))
            j++;
        if (j > i && j < n && body[j] == '=')
            return i;
    }
    return n;
}

int log_format_line(char *out,
                    int cap,
                    long long ts_ms,
                    int level,
                    const char *thr,
                    const char *mod,
                    const char *body)
{
    if (cap < 2)
        return 0;
    struct buf b = {out, cap - 1, 0};
    time_t sec = (time_t)(ts_ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char ts[96];
    snprintf(ts, sizeof(ts), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ lvl=", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts_ms % 1000));
    puts_(&b, ts);
    puts_(&b, log_level_name(level));
    puts_(&b, " thr=");
    puts_(&b, thr);
    puts_(&b, " mod=");
    put_escaped(&b, mod, strlen(mod), 0);
    size_t n = strlen(body);
    size_t k = kv_start(body, n);
    size_t m = k;
    while (m > 0 && body[m - 1] == ' ')
        m--;
    puts_(&b, " msg=\"");
    put_escaped(&b, body, m, 1);
    puts_(&b, "\"");
    if (k < n) {
        puts_(&b, " ");
        put_escaped(&b, body + k, n - k, 0);
    }
    out[b.len++] = '\n';
    return b.len;
}

void log_emit(int level, const char *mod, const char *fmt, ...)
{
    char body[NF_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    static const char *const prio[] = {"<7>", "<6>", "<4>", "<3>"};
    char line[NF_LOG_LINE_MAX + 3];
    int pre = 0;
    if (log_journal && level >= 0 && level < 4) {
        memcpy(line, prio[level], 3);
        pre = 3;
    }
    int len = pre + log_format_line(line + pre, NF_LOG_LINE_MAX, ms, level, thread_name, mod, body);
    int saved = errno; /* logging must not disturb the caller's errno */
    const char *p = line;
    while (len > 0) {
        ssize_t w = write(log_fd, p, (size_t)len);
        if (w == -1) {
            if (errno == EINTR)
                continue;
            break;
        }
        p += w;
        len -= (int)w;
    }
    errno = saved;
}
