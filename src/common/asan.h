/* asan.h - marking memory a custom allocator holds but nobody may use (free lists, released
 * arena space), so AddressSanitizer still reports a use after release. No-ops without ASan. */
#ifndef MG_ASAN_H
#define MG_ASAN_H

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define MG_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define MG_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define MG_POISON(p, n) ((void)(p), (void)(n))
#define MG_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#endif
