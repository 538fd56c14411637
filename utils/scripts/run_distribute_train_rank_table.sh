#!/bin/bash
# Data-parallel training on the Ascend devices of an HCCL rank table, one process per device: the
# implementation behind a model folder's scripts/run_distribute_train.sh, which calls
#   bash utils/scripts/run_distribute_train_rank_table.sh MODEL_DIR SCRIPT_NAME ARGUMENTS RANK_TABLE_FILE [DATA_DIR] [--key value ...]
# (common.sh describes SCRIPT_NAME and ARGUMENTS: the wrapper's name and usage.)
#
# The table is validated (python -m zoo_core.runtime.rank_table) before anything starts. On this server the script
# starts the table's ranks of this server (SERVER_ID; needed only when the table lists several servers),
# each in <output>/train_parallel<rank>/ with its log there, pinned to its share of the CPU cores, then
# waits for all of them: if one fails, the others are stopped and its log tail is printed.
set -euo pipefail
source "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/common.sh"

# Seconds the other ranks get to exit after SIGTERM before SIGKILL.
STOP_GRACE_SECONDS=10

usage() {
    usage_line
    cat << EOF
  RANK_TABLE_FILE  HCCL rank table JSON (make one with: python utils/hccl_tools.py --device_num "[0,8)")
  DATA_DIR         ImageFolder dataset with train/ and val/ ("" or omitted: the built-in demo dataset)
  --key value      any train.py option, passed through; the learning rate is scaled by the Python side
Environment: SERVER_ID (this server's server_id, for a table of several servers), OUTPUT_DIR (default
<model folder>/output/distribute_train_ascend; rank r logs to train_parallel<r>/log in it).
EOF
}

parse_script_args "$@"
DATA_DIR="${POSITIONAL[1]:-}"
[[ -z "$DATA_DIR" ]] || DATA_DIR="$(existing_dir_arg "$DATA_DIR" DATA_DIR)"
require_command python "activate the Python environment that has MindSpore"

# --- the rank table, validated before anything is created or started ---
RANK_TABLE="$(realpath -m "${POSITIONAL[0]}")"
validator=(python -m zoo_core.runtime.rank_table validate "$RANK_TABLE")
[[ -z "${SERVER_ID:-}" ]] || validator+=(--server_id "$SERVER_ID")
if ! table_listing="$("${validator[@]}")"; then
    echo "nothing was started" >&2
    usage >&2
    exit 2
fi
RANK_SIZE=""
RANKS=()
DEVICES=()
SERVERS=()
while read -r first second third; do
    if [[ "$first" == RANK_SIZE ]]; then
        RANK_SIZE="$second"
    else
        RANKS+=("$first")
        DEVICES+=("$second")
        SERVERS+=("$third")
    fi
done <<< "$table_listing"
if ! is_positive_int "$RANK_SIZE" || ((${#RANKS[@]} == 0)); then
    fail "unexpected output of ${validator[*]}: $table_listing"
fi
server_count="$(printf '%s\n' "${SERVERS[@]}" | sort -u | wc -l)"
if ((server_count > 1)); then
    usage_error "$RANK_TABLE lists $server_count servers ($(printf '%s\n' "${SERVERS[@]}" | sort -u | tr '\n' ' '));" \
        "set SERVER_ID to this server's server_id and run the script on every server"
fi
LOCAL_COUNT=${#RANKS[@]}

# --- each rank's share of the CPU cores this script may use: CPUs/LOCAL_COUNT consecutive ones ---
# The allowed CPUs, one per line (a container's cpuset need not start at 0).
allowed_cpus() {
    local list part first last cpu
    list="$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status 2> /dev/null || true)"
    if [[ -z "$list" ]]; then
        seq 0 $(($(nproc) - 1))
        return
    fi
    for part in ${list//,/ }; do
        first="${part%-*}"
        last="${part#*-}"
        for ((cpu = first; cpu <= last; cpu++)); do echo "$cpu"; done
    done
}
# cpu_list CPU...: the CPUs as taskset -c takes them, "a-b" when consecutive.
cpu_list() {
    if (($# > 1)) && (($# - 1 == ${!#} - $1)); then echo "$1-${!#}"; else (IFS=,; echo "$*"); fi
}
mapfile -t CPUS < <(allowed_cpus)
CPUS_PER_RANK=$((${#CPUS[@]} / LOCAL_COUNT))
PIN=1
if ! command -v taskset > /dev/null 2>&1; then
    echo "taskset not found: the ranks are not pinned to CPU cores"
    PIN=0
elif ((CPUS_PER_RANK == 0)); then
    echo "${#CPUS[@]} CPUs for $LOCAL_COUNT ranks: the ranks are not pinned to CPU cores"
    PIN=0
fi

OUT="$(output_dir_for "$MODEL_DIR" distribute_train_ascend)"
echo "training $MODEL_NAME on $LOCAL_COUNT of $RANK_SIZE Ascend ranks (rank table $RANK_TABLE)" \
    "with ${DATA_DIR:-the demo dataset}; output in $OUT, rank r logs to $OUT/train_parallel<r>/log"
# The rank table decides: variables of another launcher left in this shell would take precedence.
unset MS_ROLE MS_WORKER_NUM MS_SCHED_HOST MS_SCHED_PORT MS_NODE_ID
# A new session per rank (setsid) lets a stop reach the rank's own child processes (dataset workers).
SESSION_PREFIX=()
! command -v setsid > /dev/null 2>&1 || SESSION_PREFIX=(setsid)

PIDS=()
LOGS=()
stop_ranks() {
    local signal="$1" pid
    for pid in ${PIDS[@]+"${PIDS[@]}"}; do
        kill "-$signal" -- "-$pid" 2> /dev/null || kill "-$signal" "$pid" 2> /dev/null || true
    done
}
# Grace period before stopped ranks get SIGKILL; empty while nothing is being stopped.
kill_deadline=""
INTERRUPTED=0
on_interrupt() {
    INTERRUPTED=1
    echo "interrupted: stopping all ranks" >&2
    stop_ranks TERM
    kill_deadline=$((SECONDS + STOP_GRACE_SECONDS))
}
trap on_interrupt INT TERM

for index in "${!RANKS[@]}"; do
    ((INTERRUPTED == 0)) || break
    rank="${RANKS[index]}"
    rank_dir="$OUT/train_parallel$rank"
    mkdir -p "$rank_dir"
    pin_prefix=()
    cores_note=""
    if ((PIN)); then
        pin_prefix=(taskset -c "$(cpu_list "${CPUS[@]:index * CPUS_PER_RANK:CPUS_PER_RANK}")")
        cores_note=", CPUs ${pin_prefix[2]}"
    fi
    (
        cd "$rank_dir"
        export RANK_TABLE_FILE="$RANK_TABLE" RANK_SIZE RANK_ID="$rank" DEVICE_ID="${DEVICES[index]}"
        exec ${SESSION_PREFIX[@]+"${SESSION_PREFIX[@]}"} ${pin_prefix[@]+"${pin_prefix[@]}"} \
            python "$MODEL_DIR/train.py" --device_target Ascend ${DATA_DIR:+--data_dir "$DATA_DIR"} \
            --output_dir "$OUT" ${EXTRA[@]+"${EXTRA[@]}"} > "$rank_dir/log" 2>&1
    ) &
    PIDS+=($!)
    LOGS+=("$rank_dir/log")
    echo "rank $rank: device ${DEVICES[index]}$cores_note, pid ${PIDS[index]}"
done

# --- wait for every rank; on the first failure stop the others (they would wait for it in HCCL) ---
failed_index=""
failed_status=0
running=("${!PIDS[@]}")
while ((${#running[@]} > 0)); do
    still_running=()
    for index in "${running[@]}"; do
        if kill -0 "${PIDS[index]}" 2> /dev/null; then
            still_running+=("$index")
            continue
        fi
        status=0
        wait "${PIDS[index]}" || status=$?
        if ((status != 0 && INTERRUPTED == 0)) && [[ -z "$failed_index" ]]; then
            failed_index="$index"
            failed_status="$status"
            echo "rank ${RANKS[index]} failed (exit status $status): stopping the other ranks" >&2
            stop_ranks TERM
            kill_deadline=$((SECONDS + STOP_GRACE_SECONDS))
        fi
    done
    running=(${still_running[@]+"${still_running[@]}"})
    if [[ -n "$kill_deadline" ]] && ((SECONDS >= kill_deadline && ${#running[@]} > 0)); then
        stop_ranks KILL
        kill_deadline=""
    fi
    ((${#running[@]} == 0)) || sleep 1
done

if ((INTERRUPTED)); then
    echo "error: interrupted; all ranks were stopped; logs: $OUT/train_parallel<rank>/log" >&2
    exit 130
fi
if [[ -n "$failed_index" ]]; then
    print_log_tail "${LOGS[failed_index]}"
    fail "rank ${RANKS[failed_index]} (device ${DEVICES[failed_index]}) failed with exit status $failed_status;" \
        "logs: $OUT/train_parallel<rank>/log"
fi
echo "all $LOCAL_COUNT ranks finished; logs: $OUT/train_parallel<rank>/log"
