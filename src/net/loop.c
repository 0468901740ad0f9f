/* loop.c - epoll-based loop; timers in a binary min-heap keyed by monotonic deadline. */
#include "net/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/timeutil.h"

typedef struct fd_slot {
    loop_fd_cb cb;
    void *arg;
    int mask;
    bool used;
} fd_slot_t;

typedef struct timer {
    uint64_t deadline_us;
    uint64_t id;
    loop_timer_cb cb;
    void *arg;
} timer_t_;

typedef struct task {
    loop_task_cb cb;
    void *arg;
    struct task *next;
} task_t;

struct mg_loop {
    int ep;
    int wake_fd; /* eventfd: tasks posted or stop requested */
    fd_slot_t *fds;
    int nfds;
    timer_t_ *heap;
    int nheap, capheap;
    uint64_t next_timer_id;
    bool (*before_sleep)(mg_loop_t *, void *);
    void *before_sleep_arg;
    pthread_mutex_t task_lock;
    task_t *tasks, *tasks_tail;
    volatile int stop;
};

mg_loop_t *loop_new(void)
{
    mg_loop_t *l = mg_calloc(1, sizeof *l);
    if (!l) return NULL;
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->ep < 0 || l->wake_fd < 0) {
        log_error("epoll_create1/eventfd: %s", strerror(errno));
        if (l->ep >= 0) close(l->ep);
        mg_free(l);
        return NULL;
    }
    pthread_mutex_init(&l->task_lock, NULL);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l->wake_fd};
    epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wake_fd, &ev);
    return l;
}

void loop_free(mg_loop_t *l)
{
    if (!l) return;
    task_t *t = l->tasks;
    while (t) {
        task_t *n = t->next;
        mg_free(t);
        t = n;
    }
    close(l->ep);
    close(l->wake_fd);
    pthread_mutex_destroy(&l->task_lock);
    mg_free(l->fds);
    mg_free(l->heap);
    mg_free(l);
}

static int ep_events(int mask)
{
    return (mask & LOOP_READ ? EPOLLIN : 0) | (mask & LOOP_WRITE ? EPOLLOUT : 0);
}

int loop_fd_add(mg_loop_t *l, int fd, int mask, loop_fd_cb cb, void *arg)
{
    if (fd >= l->nfds) {
        int n = l->nfds ? l->nfds : 64;
        while (n <= fd) n *= 2;
        fd_slot_t *s = mg_realloc(l->fds, (size_t)n * sizeof *s);
        if (!s) return -1;
        memset(s + l->nfds, 0, (size_t)(n - l->nfds) * sizeof *s);
        l->fds = s;
        l->nfds = n;
    }
    struct epoll_event ev = {.events = (uint32_t)ep_events(mask), .data.fd = fd};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        log_error("epoll_ctl ADD fd %d: %s", fd, strerror(errno));
        return -1;
    }
    l->fds[fd] = (fd_slot_t){cb, arg, mask, true};
    return 0;
}

int loop_fd_mod(mg_loop_t *l, int fd, int mask)
{
    if (fd >= l->nfds || !l->fds[fd].used) return -1;
    if (l->fds[fd].mask == mask) return 0;
    struct epoll_event ev = {.events = (uint32_t)ep_events(mask), .data.fd = fd};
    if (epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev) < 0) return -1;
    l->fds[fd].mask = mask;
    return 0;
}

void loop_fd_del(mg_loop_t *l, int fd)
{
    if (fd < 0 || fd >= l->nfds || !l->fds[fd].used) return;
    epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
    l->fds[fd].used = false;
}

/* --- timer heap --- */
static void heap_swap(mg_loop_t *l, int a, int b)
{
    timer_t_ t = l->heap[a];
    l->heap[a] = l->heap[b];
    l->heap[b] = t;
}

static void heap_up(mg_loop_t *l, int i)
{
    while (i > 0) {
        int p = (i - 1) / 2;
        if (l->heap[p].deadline_us <= l->heap[i].deadline_us) break;
        heap_swap(l, p, i);
        i = p;
    }
}

static void heap_down(mg_loop_t *l, int i)
{
    for (;;) {
        int c = 2 * i + 1, m = i;
        if (c < l->nheap && l->heap[c].deadline_us < l->heap[m].deadline_us) m = c;
        if (c + 1 < l->nheap && l->heap[c + 1].deadline_us < l->heap[m].deadline_us) m = c + 1;
        if (m == i) return;
        heap_swap(l, m, i);
        i = m;
    }
}

static void heap_remove_at(mg_loop_t *l, int i)
{
    l->nheap--;
    if (i == l->nheap) return;
    l->heap[i] = l->heap[l->nheap];
    heap_down(l, i);
    heap_up(l, i);
}

static int heap_push(mg_loop_t *l, timer_t_ t)
{
    if (l->nheap == l->capheap) {
        int n = l->capheap ? l->capheap * 2 : 64;
        timer_t_ *h = mg_realloc(l->heap, (size_t)n * sizeof *h);
        if (!h) return -1;
        l->heap = h;
        l->capheap = n;
    }
    l->heap[l->nheap] = t;
    heap_up(l, l->nheap++);
    return 0;
}

uint64_t loop_timer_add(mg_loop_t *l, uint64_t ms, loop_timer_cb cb, void *arg)
{
    timer_t_ t = {mg_mono_us() + ms * 1000, ++l->next_timer_id, cb, arg};
    return heap_push(l, t) ? 0 : t.id;
}

void loop_timer_del(mg_loop_t *l, uint64_t id)
{
    if (!id) return;
    for (int i = 0; i < l->nheap; i++)
        if (l->heap[i].id == id) {
            heap_remove_at(l, i);
            return;
        }
}

static void run_timers(mg_loop_t *l)
{
    uint64_t now = mg_mono_us();
    while (l->nheap > 0 && l->heap[0].deadline_us <= now) {
        timer_t_ t = l->heap[0];
        heap_remove_at(l, 0);
        int again = t.cb(l, t.id, t.arg);
        if (again > 0) {
            t.deadline_us = now + (uint64_t)again * 1000;
            heap_push(l, t);
        }
    }
}

void loop_set_before_sleep(mg_loop_t *l, bool (*fn)(mg_loop_t *, void *), void *arg)
{
    l->before_sleep = fn;
    l->before_sleep_arg = arg;
}

int loop_post(mg_loop_t *l, loop_task_cb cb, void *arg)
{
    task_t *t = mg_malloc(sizeof *t);
    if (!t) return -1;
    t->cb = cb;
    t->arg = arg;
    t->next = NULL;
    pthread_mutex_lock(&l->task_lock);
    if (l->tasks_tail) l->tasks_tail->next = t;
    else l->tasks = t;
    l->tasks_tail = t;
    pthread_mutex_unlock(&l->task_lock);
    uint64_t one = 1;
    ssize_t r = write(l->wake_fd, &one, 8);
    (void)r;
    return 0;
}

static void run_tasks(mg_loop_t *l)
{
    uint64_t v;
    ssize_t r = read(l->wake_fd, &v, 8);
    (void)r;
    pthread_mutex_lock(&l->task_lock);
    task_t *t = l->tasks;
    l->tasks = l->tasks_tail = NULL;
    pthread_mutex_unlock(&l->task_lock);
    while (t) {
        task_t *n = t->next;
        t->cb(t->arg);
        mg_free(t);
        t = n;
    }
}

void loop_stop(mg_loop_t *l)
{
    l->stop = 1;
}

void loop_stop_async(mg_loop_t *l)
{
    l->stop = 1;
    uint64_t one = 1;
    ssize_t r = write(l->wake_fd, &one, 8);
    (void)r;
}

void loop_run(mg_loop_t *l)
{
    struct epoll_event evs[256];
    while (!l->stop) {
        bool more = l->before_sleep && l->before_sleep(l, l->before_sleep_arg);
        int timeout = more ? 0 : -1;
        if (!more && l->nheap > 0) {
            uint64_t now = mg_mono_us(), d = l->heap[0].deadline_us;
            timeout = d <= now ? 0 : (int)((d - now + 999) / 1000);
        }
        int n = epoll_wait(l->ep, evs, 256, timeout);
        if (n < 0 && errno != EINTR) {
            log_error("epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == l->wake_fd) {
                run_tasks(l);
                continue;
            }
            if (fd >= l->nfds || !l->fds[fd].used) continue;
            int mask = 0;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) mask |= LOOP_READ;
            if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) mask |= LOOP_WRITE;
            fd_slot_t s = l->fds[fd];
            s.cb(l, fd, mask, s.arg);
        }
        run_timers(l);
    }
}
