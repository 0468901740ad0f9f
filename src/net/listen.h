/* listen.h - TCP listening sockets for the broker and the admin HTTP server. */
#ifndef MG_NET_LISTEN_H
#define MG_NET_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

/* Bind addr:port (port 0 = a free port) and listen. Returns the fd and sets *bound_port, or -1
 * with err filled ("<what>: bind/listen ...: <errno text>"). */
int net_listen(const char *what, const char *addr, int port, bool nonblock, int backlog,
               int *bound_port, char *err, size_t errlen);

#endif
