/* util.h - small helpers without a better home. */
#ifndef MG_UTIL_H
#define MG_UTIL_H

/* mkdir -p; 0 or -1 with errno set. */
int mkdir_p(const char *path);

#endif
