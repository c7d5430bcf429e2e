#include "pool.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

#define SPINS 4000      /* busy polls before yielding */
#define YIELDS 2000     /* yields before sleeping */

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Waits until *gen differs from seen; spins, yields, then sleeps. */
static unsigned wait_gen(struct bp_pool *p, unsigned seen)
{
	unsigned g;
	for (int i = 0; i < SPINS; i++) {
		if ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) != seen)
			return g;
		relax();
	}
	for (int i = 0; i < YIELDS; i++) {
		if ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) != seen)
			return g;
		sched_yield();
	}
	pthread_mutex_lock(&p->mu);
	p->sleepers++;
	while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen)
		pthread_cond_wait(&p->cv, &p->mu);
	p->sleepers--;
	pthread_mutex_unlock(&p->mu);
	return g;
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
		seen = wait_gen(p, seen);
		if (p->quit)
			return NULL;
		p->fn(p->ctx, tid, p->n);
		atomic_fetch_sub_explicit(&p->running, 1, memory_order_acq_rel);
	}
}

int bp_pool_init(struct bp_pool *p, int n, struct bp_err *err)
{
	memset(p, 0, sizeof *p);
	p->n = n < 1 ? 1 : n;
	if (p->n == 1)
		return 0;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
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
			int started = t - 1;
			p->n = started + 1;
			bp_pool_release(p);
			return bp_fail(err, BP_ERR_RUNTIME, NULL, "cannot start %d threads (train.threads)", n);
		}
	}
	return 0;
}

static void start(struct bp_pool *p)
{
	atomic_fetch_add_explicit(&p->gen, 1, memory_order_acq_rel);
	pthread_mutex_lock(&p->mu);
	if (p->sleepers)
		pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void bp_pool_release(struct bp_pool *p)
{
	if (p->n > 1) {
		p->quit = true;
		start(p);
		for (int t = 1; t < p->n; t++)
			pthread_join(p->threads[t - 1], NULL);
		pthread_mutex_destroy(&p->mu);
		pthread_cond_destroy(&p->cv);
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
	atomic_store_explicit(&p->running, p->n - 1, memory_order_release);
	start(p);
	fn(ctx, 0, p->n);
	for (int i = 0; atomic_load_explicit(&p->running, memory_order_acquire) > 0; i++) {
		if (i < SPINS)
			relax();
		else
			sched_yield();
	}
}

void bp_pool_barrier(struct bp_pool *p)
{
	if (p->n <= 1)
		return;
	unsigned g = atomic_load_explicit(&p->bar_gen, memory_order_acquire);
	if (atomic_fetch_add_explicit(&p->bar_count, 1, memory_order_acq_rel) + 1 == (unsigned)p->n) {
		atomic_store_explicit(&p->bar_count, 0, memory_order_relaxed);
		atomic_fetch_add_explicit(&p->bar_gen, 1, memory_order_acq_rel);
		return;
	}
	for (int i = 0; atomic_load_explicit(&p->bar_gen, memory_order_acquire) == g; i++) {
		if (i < SPINS)
			relax();
		else
			sched_yield();
	}
}
