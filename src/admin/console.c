/* console.c - the web console: GET /console answers web/console.html, a single page (inline
 * CSS and JS, no external resources) that drives the REST API of this same admin server from
 * the browser; GET / redirects to it. The page is compiled into the binary: CMake runs
 * web/embed.cmake at build time, which writes mg_console_html[] into build/gen/console_html.c,
 * so the broker serves exactly the repository's file and needs nothing on disk. HEAD works as
 * GET (libmicrohttpd sends the headers and drops the body). Loop thread, as every route. */
#include <stddef.h>
#include <string.h>

#include "admin/admin_int.h"

extern const unsigned char mg_console_html[]; /* generated; NUL after the last byte */
extern const size_t mg_console_html_len;

/* The page needs its inline script and style and same-origin fetches, nothing else; the
 * policy keeps it that way even if data shown in it were ever mishandled. */
#define CONSOLE_CSP                                                                           \
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "            \
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "         \
    "frame-ancestors 'none'"

void route_console(admin_req_t *r)
{
    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
        reply_header(r, "Allow", "GET, HEAD");
        return reply_405(r);
    }
    if (r->nseg == 0) {
        static const char body[] = "See /console\n";
        reply_header(r, "Location", "/console");
        reply_header(r, "Cache-Control", "no-cache");
        return reply_text(r, 302, "text/plain; charset=utf-8", body, sizeof body - 1);
    }
    /* no-cache: the browser revalidates, so a new broker build shows its own page at once */
    reply_header(r, "Cache-Control", "no-cache");
    reply_header(r, "X-Content-Type-Options", "nosniff");
    reply_header(r, "Referrer-Policy", "no-referrer");
    reply_header(r, "Content-Security-Policy", CONSOLE_CSP);
    reply_text(r, 200, "text/html; charset=utf-8", (const char *)mg_console_html,
               mg_console_html_len);
}
