/* The processes of a data-parallel run (MPI), or just this one.
 *
 * `mpirun -np N bptrain train ...` starts N processes (ranks) that train one
 * model: each takes its share of every batch, and their gradients and
 * whole-batch sums meet here. Started without an MPI launcher, bptrain never
 * initialises MPI: the world is this process alone, rank 0 of 1, and every
 * call below is a no-op that costs nothing.
 *
 * The sums run in a fixed order whatever the network does: rank r's
 * bp_world_sum_* gathers the part of the vector it owns from every rank
 * (MPI_Alltoallv), adds the parts in rank order 0, 1, ... N-1, and shares
 * its sums back (MPI_Allgatherv); short vectors are gathered whole and added
 * in the same order (two ranks use MPI_Allreduce: each element is then
 * one addition, x0 + x1, which commutes exactly). So every rank gets the same bits, and the same N gives
 * the same bits every run. This is the reduce-scatter + allgather that
 * bandwidth-optimal allreduces (ring, Rabenseifner) do, as MPI collectives.
 *
 * Every function except bp_world_rank/size/on is collective: all ranks call
 * it in the same order with the same sizes. Only one thread of a rank calls
 * them (the calling thread of the team: MPI_THREAD_FUNNELED). */
#ifndef BP_WORLD_H
#define BP_WORLD_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Whether this bptrain was built with MPI (meson -Dmpi). */
extern const bool bp_world_built;

/* The MPI library this bptrain runs on ("Open MPI v4.1.4"), or "none". */
const char *bp_world_library(void);

/* True when an MPI launcher (mpirun, mpiexec, srun) started this process:
 * its environment says so. */
bool bp_world_launched(void);
/* The number of processes the launcher started, from its environment
 * (1 when not launched). Readable before bp_world_init. */
int bp_world_launch_size(void);
int bp_world_launch_rank(void);

/* Joins the run's processes when launched (MPI_Init_thread), else nothing.
 * Fails (BP_ERR_CONFIG) when launched with N > 1 by a bptrain without MPI. */
int bp_world_init(int *argc, char ***argv, struct bp_err *err);
/* Leaves the world at the end of the process, with the status the process
 * exits with (the same on every rank). An interrupted run (130) waits for
 * every rank (rank 0 has saved its checkpoint by then) and exits at once:
 * mpirun kills a signalled job about a second after its SIGTERM, too soon
 * for MPI_Finalize's own handshake. Returns the status otherwise. */
int bp_world_end(int status);

bool bp_world_on(void);          /* more than one process */
int bp_world_rank(void);         /* 0 .. size-1 */
int bp_world_size(void);
/* Ranks on this machine (1 when not launched). */
int bp_world_local_size(void);

/* v[0..n) ← Σ over the ranks of their v[0..n), in rank order. */
void bp_world_sum_f32(float *v, size_t n);
void bp_world_sum_f64(double *v, size_t n);
/* The way bp_world_sum_* adds a vector of this many bytes (for benchmarks):
 * "local" (this process alone), "shared-memory", "allreduce" (two ranks),
 * "allgather" (short vectors) or "alltoallv+allgatherv". */
const char *bp_world_sum_path(size_t bytes);
/* v[0..n) ← the elementwise OR over the ranks. */
void bp_world_or_u8(unsigned char *v, size_t n);
/* True on every rank when flag is true on any. */
bool bp_world_any(bool flag);
/* Rank 0's bytes p[0..n) to every rank. */
void bp_world_bcast(void *p, size_t n);

/* Every rank's outcome of the same stretch of work: rc is its 0 or -1
 * (with err filled). Returns -1 on every rank when any failed, with err
 * set to the failure of the lowest such rank (its message names the rank
 * when it is not this one's), so that rank 0 can report it once. */
int bp_world_agree(int rc, struct bp_err *err);

#endif
