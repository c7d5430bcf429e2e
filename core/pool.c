#include "pool.h"

#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Busy polls before sleeping: long enough to catch a partner that is a
 * few microseconds behind, short enough not to steal a busy machine's
 * cores (a sleeping member costs nothing). */
#define SPINS 2000

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void futex_wait(atomic_uint *word, unsigned val)
{
	syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(atomic_uint *word)
{
	syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Waits while *word == val: spins, then sleeps on the futex. sleepers
 * tells the waker whether a system call is needed. */
static void wait_while(atomic_uint *word, unsigned val, atomic_int *sleepers)
{
	for (int i = 0; i < SPINS; i++) {
		if (atomic_load_explicit(word, memory_order_acquire) != val)
			return;
		relax();
	}
	atomic_fetch_add(sleepers, 1);
	while (atomic_load(word) == val)
		futex_wait(word, val);
	atomic_fetch_sub(sleepers, 1);
}

/* Changes *word (by add) and wakes its sleepers, if any. */
static void bump(atomic_uint *word, unsigned add, atomic_int *sleepers)
{
	atomic_fetch_add(word, add);
	if (atomic_load(sleepers) > 0)
		futex_wake(word);
}

struct worker_arg {
	struct bp_pool *p;
	int tid;
};

static void *worker(void *arg)
{
	struct bp_pool *p = ((struct worker_arg *)arg)->p;
	int tid = ((struct worker_arg *)arg)->tid;
	free(arg);
	unsigned seen = 0;
	for (;;) {
		wait_while(&p->gen, seen, &p->gen_sleepers);
		seen = atomic_load_explicit(&p->gen, memory_order_acquire);
		if (p->quit)
			return NULL;
		p->fn(p->ctx, tid, p->n);
		/* The last member out tells the caller. */
		if (atomic_fetch_sub(&p->running, 1) == 1)
			bump(&p->done, 1, &p->done_sleepers);
	}
}

int bp_pool_init(struct bp_pool *p, int n, struct bp_err *err)
{
	memset(p, 0, sizeof *p);
	p->n = n < 1 ? 1 : n;
	if (p->n == 1)
		return 0;
	if (!(p->threads = calloc((size_t)p->n - 1, sizeof *p->threads))) {
		p->n = 1;
		return bp_fail_oom(err, "threads", 0);
	}
	for (int t = 1; t < p->n; t++) {
		struct worker_arg *a = malloc(sizeof *a);
		if (a) {
			a->p = p;
			a->tid = t;
		}
		if (!a || pthread_create(&p->threads[t - 1], NULL, worker, a) != 0) {
			free(a);
			p->n = t;   /* the workers started so far, plus the caller */
			bp_pool_release(p);
			return bp_fail(err, BP_ERR_RUNTIME, NULL, "cannot start %d threads (train.threads)", n);
		}
	}
	return 0;
}

void bp_pool_release(struct bp_pool *p)
{
	if (p->n > 1) {
		p->quit = true;
		bump(&p->gen, 1, &p->gen_sleepers);
		for (int t = 1; t < p->n; t++)
			pthread_join(p->threads[t - 1], NULL);
	}
	free(p->threads);
	memset(p, 0, sizeof *p);
}

void bp_pool_run(struct bp_pool *p, bp_pool_fn fn, void *ctx)
{
	if (p->n <= 1) {
		fn(ctx, 0, 1);
		return;
	}
	p->fn = fn;
	p->ctx = ctx;
	unsigned done = atomic_load(&p->done);
	atomic_store(&p->running, p->n - 1);
	bump(&p->gen, 1, &p->gen_sleepers);
	fn(ctx, 0, p->n);
	wait_while(&p->done, done, &p->done_sleepers);
}

void bp_pool_barrier(struct bp_pool *p)
{
	if (p->n <= 1)
		return;
	unsigned g = atomic_load(&p->bar_gen);
	if (atomic_fetch_add(&p->bar_count, 1) + 1 == (unsigned)p->n) {
		atomic_store(&p->bar_count, 0);
		bump(&p->bar_gen, 1, &p->bar_sleepers);
		return;
	}
	wait_while(&p->bar_gen, g, &p->bar_sleepers);
}
