/* nf_tsan: ThreadSanitizer annotations for hand-offs it cannot see (concurrencykit's ck_pr
 * fences). NF_TSAN_RELEASE(p) before giving p away through a ring, NF_TSAN_ACQUIRE(p) after taking
 * it; NF_TSAN_IGNORE_BEGIN/END around the ck calls themselves, whose slot accesses are ordered
 * by fences TSan cannot see (the payload's order comes from the RELEASE/ACQUIRE pair). All compile
 * to nothing outside -fsanitize=thread builds. Header only, any thread. */
#ifndef NF_TSAN_H
#define NF_TSAN_H

#if defined(__SANITIZE_THREAD__)
#define NF_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NF_TSAN 1
#endif
#endif

#ifdef NF_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#define NF_TSAN_RELEASE(p)     __tsan_release((void *)(p))
#define NF_TSAN_ACQUIRE(p)     __tsan_acquire((void *)(p))
#define NF_TSAN_IGNORE_BEGIN() __tsan_ignore_thread_begin()
#define NF_TSAN_IGNORE_END()   __tsan_ignore_thread_end()
#else
#define NF_TSAN_RELEASE(p)     ((void)(p))
#define NF_TSAN_ACQUIRE(p)     ((void)(p))
#define NF_TSAN_IGNORE_BEGIN() ((void)0)
#define NF_TSAN_IGNORE_END()   ((void)0)
#endif

#endif
