/* log.h - leveled logging to stderr, shared by broker, tools and client library.
 * Thread-safe (one fprintf per line). Level from MAGNETAR_LOG_LEVEL (error|warn|info|debug). */
#ifndef MG_LOG_H
#define MG_LOG_H

enum { MG_LOG_ERROR = 0, MG_LOG_WARN, MG_LOG_INFO, MG_LOG_DEBUG };

extern int mg_log_level;
void mg_log_init(void);
void mg_log_write(int level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define mg_log(lvl, ...)                                                                           \
    do {                                                                                           \
        if ((lvl) <= mg_log_level) mg_log_write((lvl), __FILE__, __LINE__, __VA_ARGS__);           \
    } while (0)
#define log_error(...) mg_log(MG_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) mg_log(MG_LOG_WARN, __VA_ARGS__)
#define log_info(...) mg_log(MG_LOG_INFO, __VA_ARGS__)
#define log_debug(...) mg_log(MG_LOG_DEBUG, __VA_ARGS__)

#endif
