#!/bin/bash
# One OpenMPI rank of a MindSpore dynamic cluster: `mpirun -n N bash mpirun_worker.sh LOG_DIR COMMAND...`.
#
# MindSpore 2.x builds its process group from a scheduler process plus N workers (the "dynamic cluster");
# a plain `mpirun -n N python train.py` starts no scheduler and fails. Here every OpenMPI rank runs
# COMMAND as the worker with that rank (MS_ROLE=MS_WORKER, MS_NODE_ID=rank), and rank 0 also runs COMMAND
# as the scheduler (MS_ROLE=MS_SCHED) in the background. Logs: LOG_DIR/worker_<rank>.log, LOG_DIR/scheduler.log.
#
# Environment: MS_SCHED_PORT (required), MS_SCHED_HOST (default 127.0.0.1; the host of rank 0 on several
# machines), MS_TOPO_TIMEOUT (seconds to wait for the cluster to form), and OpenMPI's OMPI_COMM_WORLD_*.
set -euo pipefail

usage() {
    echo "usage: mpirun -n N [-x MS_SCHED_PORT ...] bash $(basename "$0") LOG_DIR COMMAND [ARGS...]" >&2
    echo "  (started by utils/scripts/run_distribute_*.sh with LAUNCHER=mpirun; needs MS_SCHED_PORT)" >&2
    exit 2
}

(($# >= 2)) || usage
[[ -n "${OMPI_COMM_WORLD_RANK:-}" && -n "${OMPI_COMM_WORLD_SIZE:-}" ]] || {
    echo "error: OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE are not set: run this under OpenMPI's mpirun" >&2
    usage
}
[[ -n "${MS_SCHED_PORT:-}" ]] || { echo "error: MS_SCHED_PORT is not set" >&2; usage; }
log_dir="$(realpath "$1")"
shift
mkdir -p "$log_dir"

rank="$OMPI_COMM_WORLD_RANK"
size="$OMPI_COMM_WORLD_SIZE"
local_rank="${OMPI_COMM_WORLD_LOCAL_RANK:-$rank}"
worker_log="$log_dir/worker_$rank.log"

export MS_WORKER_NUM="$size" RANK_SIZE="$size"
export MS_SCHED_HOST="${MS_SCHED_HOST:-127.0.0.1}"
export MS_SCHED_PORT
# MindSpore reads OMPI_COMM_WORLD_* at import and warns when they meet MS_ROLE: the dynamic cluster decides.
unset OMPI_COMM_WORLD_RANK OMPI_COMM_WORLD_SIZE OMPI_COMM_WORLD_LOCAL_RANK

scheduler_pid=""
worker_pid=""
tail_pid=""
# shellcheck disable=SC2317  # called from the traps
stop_children() {
    [[ -z "$worker_pid" ]] || kill "$worker_pid" 2> /dev/null || true
    [[ -z "$scheduler_pid" ]] || kill "$scheduler_pid" 2> /dev/null || true
    [[ -z "$tail_pid" ]] || kill "$tail_pid" 2> /dev/null || true
}
# mpirun stops the other ranks when one fails: take the worker and the scheduler down with this shell.
trap 'stop_children; exit 143' TERM
trap 'stop_children; exit 130' INT

if ((rank == 0)); then
    MS_ROLE=MS_SCHED RANK_ID=0 "$@" > "$log_dir/scheduler.log" 2>&1 &
    scheduler_pid=$!
fi

# The command runs in the background so that the traps above fire while it runs (bash defers them otherwise).
MS_ROLE=MS_WORKER MS_NODE_ID="$rank" RANK_ID="$rank" DEVICE_ID="$local_rank" \
    "$@" > "$worker_log" 2>&1 &
worker_pid=$!
if ((rank == 0)); then
    # Rank 0's log on the console (as msrun --tail_worker_log=0 does); tail ends with the worker.
    tail -n +1 -f --pid="$worker_pid" "$worker_log" &
    tail_pid=$!
fi
status=0
wait "$worker_pid" || status=$?
worker_pid=""
[[ -z "$tail_pid" ]] || wait "$tail_pid" || true
if ((status != 0)); then
    echo "[mpirun_worker] rank $rank: '$*' exited with status $status" >> "$worker_log"
    # The cluster cannot complete without this worker: do not wait for the scheduler's own timeout.
    [[ -z "$scheduler_pid" ]] || kill "$scheduler_pid" 2> /dev/null || true
fi
if [[ -n "$scheduler_pid" ]]; then
    scheduler_status=0
    wait "$scheduler_pid" || scheduler_status=$?
    scheduler_pid=""
    if ((scheduler_status != 0)); then
        echo "[mpirun_worker] scheduler: '$*' exited with status $scheduler_status" >> "$log_dir/scheduler.log"
        ((status != 0)) || status=$scheduler_status
    fi
fi
exit "$status"
