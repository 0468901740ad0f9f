/* util.h - small helpers without a better home. */
#ifndef MG_UTIL_H
#define MG_UTIL_H

#include <stddef.h>

/* mkdir -p; 0 or -1 with errno set. */
int mkdir_p(const char *path);

/* printf into an optional caller buffer (an error or reason string): nothing when buf is NULL
 * or len is 0. */
void mg_set_err(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
