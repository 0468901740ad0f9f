/* loop.h - the broker's single event loop: epoll file events, one-shot and repeating timers,
 * a before-sleep hook, and a thread-safe task queue so other threads (admin HTTP, storage) can
 * run work on the loop thread. Everything except loop_post() runs on the loop thread. */
#ifndef MG_NET_LOOP_H
#define MG_NET_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef struct mg_loop mg_loop_t;

enum { LOOP_READ = 1, LOOP_WRITE = 2 };

typedef void (*loop_fd_cb)(mg_loop_t *l, int fd, int events, void *arg);
typedef int (*loop_timer_cb)(mg_loop_t *l, uint64_t id, void *arg); /* return ms to repeat, <=0 stop */
typedef void (*loop_task_cb)(void *arg);

mg_loop_t *loop_new(void);
void loop_free(mg_loop_t *l);
/* Register/modify interest for fd (mask of LOOP_READ|LOOP_WRITE); one callback per fd. */
int loop_fd_add(mg_loop_t *l, int fd, int mask, loop_fd_cb cb, void *arg);
int loop_fd_mod(mg_loop_t *l, int fd, int mask);
void loop_fd_del(mg_loop_t *l, int fd);
/* Timers fire after ms milliseconds; ids are never 0. */
uint64_t loop_timer_add(mg_loop_t *l, uint64_t ms, loop_timer_cb cb, void *arg);
void loop_timer_del(mg_loop_t *l, uint64_t id);
/* fn runs at the end of every pass, before the loop waits for events; when it returns true
 * (work is left for the next pass) the loop only polls, it does not block. */
void loop_set_before_sleep(mg_loop_t *l, bool (*fn)(mg_loop_t *, void *), void *arg);
/* Any thread: run cb(arg) on the loop thread soon. 0 or -1. */
int loop_post(mg_loop_t *l, loop_task_cb cb, void *arg);
/* Run until loop_stop (callable from the loop thread or a signal-safe path via loop_post). */
void loop_run(mg_loop_t *l);
void loop_stop(mg_loop_t *l);
/* Any thread, async-signal-safe: ask the loop to stop. */
void loop_stop_async(mg_loop_t *l);

#endif
