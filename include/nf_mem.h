/* nf_mem: large zeroed tables that cost memory only where they are used. An anonymous private
 * mapping gets its pages on first touch (an untouched slab costs nothing resident), and is
 * marked for transparent huge pages, so filling it (a log replay, a busy hour) takes one page
 * fault per 2 MiB instead of one per 4 KiB. Any thread; the caller owns the mapping and releases
 * it with nf_mem_unmap and the same size. */
#ifndef NF_MEM_H
#define NF_MEM_H

#include <stddef.h>
#include <sys/mman.h>

/* nf_mem_map: bytes of zeroed memory, or NULL. */
static inline void *nf_mem_map(size_t bytes)
{
    if (bytes == 0)
        return NULL;
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(m, bytes, MADV_HUGEPAGE); /* advice: without THP the pages are 4 KiB */
#endif
    return m;
}

/* nf_mem_unmap: releases a mapping from nf_mem_map (NULL is a no-op). */
static inline void nf_mem_unmap(void *m, size_t bytes)
{
    if (m != NULL)
        munmap(m, bytes);
}

#endif
