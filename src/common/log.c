/* log.c - see log.h. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

int mg_log_level = MG_LOG_INFO;

void mg_log_init(void)
{
    const char *l = getenv("MAGNETAR_LOG_LEVEL");
    if (!l) return;
    if (!strcmp(l, "error")) mg_log_level = MG_LOG_ERROR;
    else if (!strcmp(l, "warn")) mg_log_level = MG_LOG_WARN;
    else if (!strcmp(l, "info")) mg_log_level = MG_LOG_INFO;
    else if (!strcmp(l, "debug")) mg_log_level = MG_LOG_DEBUG;
}

void mg_log_write(int level, const char *file, int line, const char *fmt, ...)
{
    static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    char msg[1024], ts[32];
    struct timeval tv;
    struct tm tm;
    va_list ap;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof ts, "%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *base = strrchr(file, '/');
    fprintf(stderr, "%s.%03d %-5s [%s:%d] %s\n", ts, (int)(tv.tv_usec / 1000), names[level],
            base ? base + 1 : file, line, msg);
}
