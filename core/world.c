#include "world.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef BP_HAVE_MPI
#include <mpi.h>
const bool bp_world_built = true;
#else
const bool bp_world_built = false;
#endif

/* The launchers' variables: OpenMPI's mpirun, PMIx ones (prterun, srun
 * --mpi=pmix), and PMI/PMI2 ones (MPICH's hydra, srun --mpi=pmi2). */
static const char *const size_vars[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", NULL };
static const char *const rank_vars[] = { "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", NULL };

static int env_int(const char *const *names, int fallback)
{
	for (int i = 0; names[i]; i++) {
		const char *v = getenv(names[i]);
		char *end;
		long n;
		if (v && *v && (n = strtol(v, &end, 10)) >= 0 && !*end && n <= INT_MAX)
			return (int)n;
	}
	return fallback;
}

bool bp_world_launched(void)
{
	for (int i = 0; rank_vars[i]; i++)
		if (getenv(rank_vars[i]))
			return true;
	return false;
}

int bp_world_launch_size(void) { return bp_world_launched() ? env_int(size_vars, 1) : 1; }
int bp_world_launch_rank(void) { return bp_world_launched() ? env_int(rank_vars, 0) : 0; }

static struct {
	bool on;                    /* MPI initialised */
	int rank, size, local;
	void *scratch;              /* the sums' received parts */
	size_t cap;
	int *counts, *displs;       /* size each, then two more: the parts' lengths and offsets */
} w = { false, 0, 1, 1, NULL, 0, NULL, NULL };

bool bp_world_on(void) { return w.size > 1; }
int bp_world_rank(void) { return w.rank; }
int bp_world_size(void) { return w.size; }
int bp_world_local_size(void) { return w.local; }

#ifdef BP_HAVE_MPI

const char *bp_world_library(void)
{
	static char name[MPI_MAX_LIBRARY_VERSION_STRING];
	int len = 0;
	if (!name[0] && MPI_Get_library_version(name, &len) == MPI_SUCCESS) {
		name[strcspn(name, ",\n")] = '\0';   /* "Open MPI v4.1.4, package: ..." */
	}
	return name[0] ? name : "MPI";
}

int bp_world_init(int *argc, char ***argv, struct bp_err *err)
{
	if (!bp_world_launched() || w.on)
		return 0;
	int provided;
	if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
		return bp_fail(err, BP_ERR_RUNTIME, NULL, "MPI_Init_thread failed");
	w.on = true;
	MPI_Comm_rank(MPI_COMM_WORLD, &w.rank);
	MPI_Comm_size(MPI_COMM_WORLD, &w.size);
	MPI_Comm local;
	MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, w.rank, MPI_INFO_NULL, &local);
	MPI_Comm_size(local, &w.local);
	MPI_Comm_free(&local);
	w.counts = malloc(4 * (size_t)w.size * sizeof *w.counts);
	if (!w.counts) {
		MPI_Abort(MPI_COMM_WORLD, BP_ERR_RUNTIME);
		return bp_fail_oom(err, "the MPI ranks' table", 4 * (size_t)w.size * sizeof *w.counts);
	}
	w.displs = w.counts + w.size;
	return 0;
}

/* Sums through memory the ranks share, when they all run on this machine:
 * each rank's vector goes into its segment of an MPI shared-memory window
 * (MPI_Win_allocate_shared), each rank adds its part over the segments in
 * rank order, and copies the others' parts of the result from theirs: the
 * same additions as the other paths, with one copy in and one copy out
 * instead of messages. The window holds two buffers per rank, used in
 * turn, so that a sum never writes the buffer another rank may still be
 * reading from the previous one (each sum's first barrier comes after
 * every rank's reads of two sums before). */
static struct {
	bool tried, ok;             /* set up (ok), or found impossible */
	MPI_Win win;
	size_t cap;                 /* bytes per buffer */
	char **seg;                 /* size: each rank's two buffers */
	int turn;
} shm;

#define SHM_MIN_BYTES 16384     /* shorter sums: the message paths cost less than two barriers */

static void shm_release(void)
{
	if (shm.ok) {
		MPI_Barrier(MPI_COMM_WORLD);   /* nobody still reads the old buffers */
		MPI_Win_unlock_all(shm.win);
		MPI_Win_free(&shm.win);
	}
	free(shm.seg);
	memset(&shm, 0, sizeof shm);
}

/* Room for sums of bytes; false: use the message paths. Collective (every
 * rank asks for the same size at the same sum). */
static bool shm_reserve(size_t bytes)
{
	if (shm.ok && bytes <= shm.cap)
		return true;
	if ((shm.tried && !shm.ok) || w.local != w.size)
		return false;
	shm_release();
	shm.tried = true;
	size_t cap = (bytes + 63) / 64 * 64;
	if (cap > (size_t)INT_MAX / 4 || !(shm.seg = calloc((size_t)w.size, sizeof *shm.seg)))
		return false;
	char *base;
	if (MPI_Win_allocate_shared((MPI_Aint)(2 * cap), 1, MPI_INFO_NULL, MPI_COMM_WORLD, &base, &shm.win)
	    != MPI_SUCCESS)
		return false;
	for (int r = 0; r < w.size; r++) {
		MPI_Aint size;
		int unit;
		MPI_Win_shared_query(shm.win, r, &size, &unit, &shm.seg[r]);
	}
	MPI_Win_lock_all(MPI_MODE_NOCHECK, shm.win);
	shm.ok = true;
	shm.cap = cap;
	return true;
}

/* Every rank's writes to its segment are visible to all after this. */
static void shm_fence(void)
{
	MPI_Win_sync(shm.win);
	MPI_Barrier(MPI_COMM_WORLD);
	MPI_Win_sync(shm.win);
}

int bp_world_end(int status)
{
	if (!w.on)
		return status;
	fflush(stdout);
	fflush(stderr);
	if (status == 130) {
		MPI_Barrier(MPI_COMM_WORLD);
		_exit(status);
	}
	shm_release();
	MPI_Finalize();
	free(w.scratch);
	free(w.counts);
	w.on = false;
	return status;
}

static void *scratch(size_t bytes)
{
	if (bytes > w.cap) {
		void *p = realloc(w.scratch, bytes);
		if (!p) {
			fprintf(stderr, "bptrain: error: out of memory allocating %zu bytes for an MPI sum\n", bytes);
			MPI_Abort(MPI_COMM_WORLD, BP_ERR_RUNTIME);
		}
		w.scratch = p;
		w.cap = bytes;
	}
	return w.scratch;
}

/* Rank r's part of n elements: [lo, hi). */
static void part(size_t n, int r, size_t *lo, size_t *hi)
{
	size_t q = n / (size_t)w.size, rem = n % (size_t)w.size, u = (size_t)r;
	*lo = u * q + (u < rem ? u : rem);
	*hi = *lo + q + (u < rem ? 1 : 0);
}

/* Vectors up to this many elements (times the ranks) are gathered whole. */
#define SMALL_SUM 4096

/* out[0..len) ← parts[0] + parts[1] + … + parts[size−1] (each part len long,
 * stride apart), added in rank order: rank 0's part, then one vectorisable
 * pass per further rank, the same additions in the same order as the sum
 * of each element over the ranks. */
#define ADD_IN_ORDER(NAME, T)                                                                         \
	static void NAME(T *restrict out, const T *restrict parts, size_t stride, size_t len)             \
	{                                                                                                 \
		memcpy(out, parts, len * sizeof *out);                                                        \
		for (int r = 1; r < w.size; r++) {                                                            \
			const T *restrict p = parts + (size_t)r * stride;                                         \
			for (size_t j = 0; j < len; j++)                                                          \
				out[j] += p[j];                                                                       \
		}                                                                                             \
	}
ADD_IN_ORDER(add_in_order_f32, float)
ADD_IN_ORDER(add_in_order_f64, double)

/* The shared-memory sum of v[0..n) (see shm above); T the element type. */
#define SHM_SUM(NAME, T)                                                                          \
	static void NAME(T *v, size_t n)                                                                  \
	{                                                                                                 \
		size_t off = (size_t)shm.turn * shm.cap, lo, hi;                                              \
		shm.turn ^= 1;                                                                                \
		T *mine = (T *)(shm.seg[w.rank] + off);                                                       \
		memcpy(mine, v, n * sizeof *v);                                                               \
		shm_fence();                                                                                  \
		part(n, w.rank, &lo, &hi);                                                                    \
		memcpy(v + lo, (const T *)(shm.seg[0] + off) + lo, (hi - lo) * sizeof *v);                    \
		for (int r = 1; r < w.size; r++) {                                                            \
			const T *restrict p = (const T *)(shm.seg[r] + off) + lo;                                 \
			T *restrict o = v + lo;                                                                   \
			for (size_t j = 0; j < hi - lo; j++)                                                      \
				o[j] += p[j];                                                                         \
		}                                                                                             \
		memcpy(mine + lo, v + lo, (hi - lo) * sizeof *v);                                             \
		shm_fence();                                                                                  \
		for (int r = 0; r < w.size; r++)                                                              \
			if (r != w.rank) {                                                                        \
				part(n, r, &lo, &hi);                                                                 \
				memcpy(v + lo, (const T *)(shm.seg[r] + off) + lo, (hi - lo) * sizeof *v);            \
			}                                                                                         \
	}

const char *bp_world_sum_path(size_t bytes)
{
	if (w.size <= 1)
		return "local";
	if (bytes >= SHM_MIN_BYTES && w.local == w.size && !(shm.tried && !shm.ok))
		return "shared-memory";
	if (w.size == 2)
		return "allreduce";
	return bytes / sizeof(float) * (size_t)w.size <= SMALL_SUM ? "allgather" : "alltoallv+allgatherv";
}

/* One body for both element types: T the C type, MT the MPI one, ADD the
 * rank-order sum above. With two ranks each element's sum is one addition,
 * x0 + x1, and IEEE addition is commutative: MPI's own MPI_Allreduce then
 * gives the same bits whichever rank adds, in one collective instead of
 * two (about half the time, bench/allreduce). */
#define WORLD_SUM(NAME, T, MT, ADD, SHM)                                                                    \
	void NAME(T *v, size_t n)                                                                         \
	{                                                                                                 \
		if (w.size <= 1 || n == 0)                                                                    \
			return;                                                                                   \
		BP_BUG(n > (size_t)INT_MAX);                                                                  \
		if (n * sizeof *v >= SHM_MIN_BYTES && shm_reserve(n * sizeof *v)) {                           \
			SHM(v, n);                                                                                \
			return;                                                                                   \
		}                                                                                             \
		if (w.size == 2) {                                                                            \
			MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MT, MPI_SUM, MPI_COMM_WORLD);                       \
			return;                                                                                   \
		}                                                                                             \
		if (n * (size_t)w.size <= SMALL_SUM) {                                                        \
			T *all = scratch(n * (size_t)w.size * sizeof *all);                                       \
			MPI_Allgather(v, (int)n, MT, all, (int)n, MT, MPI_COMM_WORLD);                             \
			ADD(v, all, n, n);                                                                        \
			return;                                                                                   \
		}                                                                                             \
		size_t lo, hi;                                                                                \
		part(n, w.rank, &lo, &hi);                                                                    \
		size_t mine = hi - lo;                                                                        \
		T *parts = scratch(mine * (size_t)w.size * sizeof *parts);                                    \
		int *rcounts = w.counts, *rdispls = w.displs;                                                 \
		int *scounts = w.displs + w.size, *sdispls = scounts + w.size;                                \
		for (int r = 0; r < w.size; r++) {                                                            \
			size_t a, b;                                                                              \
			part(n, r, &a, &b);                                                                       \
			scounts[r] = (int)(b - a);                                                                \
			sdispls[r] = (int)a;                                                                      \
			rcounts[r] = (int)mine;                                                                   \
			rdispls[r] = (int)(mine * (size_t)r);                                                     \
		}                                                                                             \
		MPI_Alltoallv(v, scounts, sdispls, MT, parts, rcounts, rdispls, MT, MPI_COMM_WORLD);           \
		ADD(v + lo, parts, mine, mine);                                                               \
		MPI_Allgatherv(MPI_IN_PLACE, 0, MT, v, scounts, sdispls, MT, MPI_COMM_WORLD);                 \
	}

SHM_SUM(shm_sum_f32, float)
SHM_SUM(shm_sum_f64, double)
WORLD_SUM(bp_world_sum_f32, float, MPI_FLOAT, add_in_order_f32, shm_sum_f32)
WORLD_SUM(bp_world_sum_f64, double, MPI_DOUBLE, add_in_order_f64, shm_sum_f64)

void bp_world_or_u8(unsigned char *v, size_t n)
{
	for (size_t off = 0; w.size > 1 && off < n; off += INT_MAX) {
		size_t c = n - off < INT_MAX ? n - off : INT_MAX;
		MPI_Allreduce(MPI_IN_PLACE, v + off, (int)c, MPI_UNSIGNED_CHAR, MPI_BOR, MPI_COMM_WORLD);
	}
}

bool bp_world_any(bool flag)
{
	if (w.size <= 1)
		return flag;
	int f = flag, any = 0;
	MPI_Allreduce(&f, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	return any != 0;
}

void bp_world_bcast(void *p, size_t n)
{
	for (size_t off = 0; w.size > 1 && off < n; off += INT_MAX) {
		size_t c = n - off < INT_MAX ? n - off : INT_MAX;
		MPI_Bcast((char *)p + off, (int)c, MPI_BYTE, 0, MPI_COMM_WORLD);
	}
}

/* What a rank tells the others about its stretch of work. */
struct outcome {
	int failed;
	int kind;
	char where[sizeof ((struct bp_err *)0)->where];
	char msg[sizeof ((struct bp_err *)0)->msg];
	char host[64];
};

int bp_world_agree(int rc, struct bp_err *err)
{
	if (w.size <= 1)
		return rc;
	struct outcome mine;
	memset(&mine, 0, sizeof mine);
	mine.failed = rc != 0;
	if (rc) {
		mine.kind = (int)err->kind;
		memcpy(mine.where, err->where, sizeof mine.where);
		memcpy(mine.msg, err->msg, sizeof mine.msg);
		mine.where[sizeof mine.where - 1] = mine.msg[sizeof mine.msg - 1] = '\0';
		if (gethostname(mine.host, sizeof mine.host) != 0)
			strcpy(mine.host, "?");
		mine.host[sizeof mine.host - 1] = '\0';
	}
	struct outcome *all = scratch((size_t)w.size * sizeof *all);
	MPI_Allgather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE, MPI_COMM_WORLD);
	for (int r = 0; r < w.size; r++) {
		if (!all[r].failed)
			continue;
		if (r != w.rank) {
			struct outcome o = all[r];   /* scratch is reused by bp_fail's callers */
			bp_fail(err, (enum bp_errkind)o.kind, o.where[0] ? o.where : NULL, "%s (on rank %d of %d, host %s)",
			        o.msg, r, w.size, o.host);
		}
		return -1;
	}
	return 0;
}

#else /* without MPI: the world is this process */

const char *bp_world_library(void) { return "none"; }
const char *bp_world_sum_path(size_t bytes) { (void)bytes; return "local"; }

int bp_world_init(int *argc, char ***argv, struct bp_err *err)
{
	(void)argc;
	(void)argv;
	if (bp_world_launch_size() > 1)
		return bp_fail(err, BP_ERR_CONFIG, NULL, "this bptrain was built without MPI, so it cannot train across the "
		               "%d processes mpirun started: install libopenmpi-dev and rebuild (meson -Dmpi=enabled)",
		               bp_world_launch_size());
	return 0;
}

int bp_world_end(int status) { return status; }
void bp_world_sum_f32(float *v, size_t n) { (void)v, (void)n; }
void bp_world_sum_f64(double *v, size_t n) { (void)v, (void)n; }
void bp_world_or_u8(unsigned char *v, size_t n) { (void)v, (void)n; }
bool bp_world_any(bool flag) { return flag; }
void bp_world_bcast(void *p, size_t n) { (void)p, (void)n; }
int bp_world_agree(int rc, struct bp_err *err) { (void)err; return rc; }

#endif
