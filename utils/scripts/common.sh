# shellcheck shell=bash
# Helpers shared by the scripts of utils/scripts/: sourced, never run.
# A script that sources this defines usage() (the text printed for a wrong argument, starting with
# usage_line) and parses its arguments with parse_script_args, giving its usage text and counts.
#
# How a model folder's script (the wrapper) calls the shared script that implements it:
#   bash utils/scripts/X.sh MODEL_DIR --as SCRIPT_NAME ARGUMENTS REQUIRED OPTIONAL OPTIONS [DEVICE_TARGET] ARGS...
# SCRIPT_NAME is the wrapper's file name and ARGUMENTS its usage after its name, e.g.
# "DATA_DIR [DEVICE_ID] [--key value ...]", followed by what that usage accepts, counted by the wrapper:
# REQUIRED positional arguments, OPTIONAL ones after them, and OPTIONS ("options" when --key value options
# for the Python entry point may follow, else "no-options"). Without --as (a shared script run directly) the
# shared script's own usage applies. DEVICE_TARGET follows for a shared script parsed with --target.
#
# Environment read here:
#   OUTPUT_DIR        output folder of a run (default: <model folder>/output/<kind of run>)
#   MASTER_PORT       scheduler port of msrun/mpirun runs (default: a free port; required with NUM_NODES > 1)
#   NUM_NODES         hosts of a msrun/mpirun run, each starting the same number of processes (default 1)
#   NODE_RANK         this host's index among them, 0..NUM_NODES-1 (default 0; host 0 runs the scheduler)
#   MASTER_ADDR       address of host 0, where the scheduler listens (default 127.0.0.1; required with
#                     NUM_NODES > 1)
#   CLUSTER_TIME_OUT  seconds the processes of a run wait for each other to join the cluster (default 600)
#   LOG_TAIL_LINES    lines of a failing process's log printed on failure (default 40)

ZOO_SCRIPTS_DIR="$(dirname "$(realpath "${BASH_SOURCE[0]}")")"
DEVICE_TARGETS="CPU GPU Ascend"
CLUSTER_TIME_OUT="${CLUSTER_TIME_OUT:-600}"
LOG_TAIL_LINES="${LOG_TAIL_LINES:-40}"
DEFAULT_MASTER_ADDR=127.0.0.1
# Variables by which the Python side (zoo_core.runtime.distributed) recognises a distributed launch.
DISTRIBUTED_ENV_VARS="MS_ROLE MS_WORKER_NUM MS_SCHED_HOST MS_SCHED_PORT MS_NODE_ID RANK_TABLE_FILE RANK_SIZE RANK_ID"

# usage_error MESSAGE: the message and the usage on stderr, exit status 2 (nothing has been started).
usage_error() {
    echo "error: $*" >&2
    usage >&2
    exit 2
}

# fail MESSAGE: a run that went wrong after its arguments were accepted; exit status 1.
fail() {
    echo "error: $*" >&2
    exit 1
}

# exit_if_help ARGS...: print the usage on stdout and exit 0 if the first argument asks for help.
exit_if_help() {
    case "${1:-}" in
        -h | --help) usage; exit 0 ;;
    esac
}

is_non_negative_int() { [[ "$1" =~ ^[0-9]+$ ]]; }
is_positive_int() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }

# usage_line: the first line of the usage: the command (the wrapper's, with --as) and its ARGUMENTS.
usage_line() {
    echo "usage: $USAGE_COMMAND $SCRIPT_ARGUMENTS"
}

# parse_script_args [--target] USAGE MODEL_DIR [--as SCRIPT_NAME USAGE] [DEVICE_TARGET] ARGS...: the arguments of
# a shared script (see the top of this file; the first USAGE is its own, for a direct run), checked against the
# USAGE that applies. A USAGE is four words: the usage text (e.g. "DATA_DIR [DEVICE_ID] [--key value ...]"),
# then its counts, written out by the script that owns it: REQUIRED positional arguments, OPTIONAL ones after
# them, and OPTIONS, "options" when --key value options for the Python entry point may follow, else
# "no-options". Sets MODEL_DIR, MODEL_NAME, USAGE_COMMAND, SCRIPT_ARGUMENTS, TARGET (with --target),
# POSITIONAL and EXTRA (the --key value options). -h/--help as the first of ARGS prints the usage, exit 0.
USAGE_WORDS=4
parse_script_args() {
    local with_target=0
    if [[ "$1" == --target ]]; then
        with_target=1
        shift
    fi
    (($# >= USAGE_WORDS)) || fail "parse_script_args: expects the usage text, REQUIRED, OPTIONAL and OPTIONS"
    set_usage "$1" "$2" "$3" "$4"
    shift "$USAGE_WORDS"
    USAGE_COMMAND="bash utils/scripts/$(basename "$0") MODEL_DIR"
    ((with_target == 0)) || USAGE_COMMAND+=" CPU|GPU|Ascend"
    (($#)) || usage_error "expects MODEL_DIR first (it is called by a model folder's scripts)"
    MODEL_DIR="$(model_dir_arg "$1")"
    MODEL_NAME="$(basename "$MODEL_DIR")"
    shift
    if [[ "${1:-}" == --as ]]; then
        (($# >= USAGE_WORDS + 2)) || usage_error "--as needs the script's name and its usage (text and counts)"
        USAGE_COMMAND="bash $MODEL_NAME/scripts/$2"
        set_usage "$3" "$4" "$5" "$6"
        shift $((USAGE_WORDS + 2))
    fi
    if ((with_target)); then
        (($#)) || usage_error "expects DEVICE_TARGET after MODEL_DIR"
        TARGET="$(device_target_arg "$1")"
        shift
    fi
    exit_if_help "$@"
    if [[ "$SCRIPT_OPTIONS" == options ]]; then
        split_positional_and_extra "$@"
    else
        POSITIONAL=("$@")
        EXTRA=()
    fi
    expect_positional_count "$SCRIPT_REQUIRED" $((SCRIPT_REQUIRED + SCRIPT_OPTIONAL))
}

# set_usage TEXT REQUIRED OPTIONAL OPTIONS: the usage that applies (see parse_script_args), its counts checked.
set_usage() {
    is_non_negative_int "$2" && is_non_negative_int "$3" ||
        fail "usage '$1': REQUIRED and OPTIONAL must be counts, got '$2' and '$3'"
    [[ "$4" == options || "$4" == no-options ]] || fail "usage '$1': OPTIONS must be options or no-options, got '$4'"
    SCRIPT_ARGUMENTS="$1" SCRIPT_REQUIRED="$2" SCRIPT_OPTIONAL="$3" SCRIPT_OPTIONS="$4"
}

# split_positional_and_extra ARGS...: POSITIONAL=the leading arguments, EXTRA=the rest from the first "-..." on,
# which must be --key value options (passed through to the Python entry point).
split_positional_and_extra() {
    POSITIONAL=()
    while (($#)) && [[ "$1" != -* ]]; do
        POSITIONAL+=("$1")
        shift
    done
    if (($#)) && [[ "$1" != --* ]]; then
        usage_error "unexpected argument '$1' (options for the Python entry point are written --key value)"
    fi
    EXTRA=("$@")
}

# expect_positional_count MIN MAX: usage error unless MIN <= ${#POSITIONAL[@]} <= MAX.
expect_positional_count() {
    local count=${#POSITIONAL[@]} expected="$1 to $2"
    if (($1 == $2)); then
        expected="$1"
    elif (($1 + 1 == $2)); then
        expected="$1 or $2"
    fi
    if ((count < $1)); then
        usage_error "missing argument(s): expected $expected arguments, got $count"
    fi
    if ((count > $2)); then
        usage_error "too many arguments: expected $expected arguments, got $count (${POSITIONAL[*]})"
    fi
}

# model_dir_arg PATH: the model folder the wrapper passed, resolved (a usage error if it is no folder).
model_dir_arg() {
    [[ -d "$1" ]] || usage_error "model folder not found: $1 (run the scripts in a model folder's scripts/)"
    realpath "$1"
}

# device_target_arg NAME: NAME if it is one of CPU, GPU, Ascend.
device_target_arg() {
    case "$1" in
        CPU | GPU | Ascend) echo "$1" ;;
        *) usage_error "DEVICE_TARGET must be one of $DEVICE_TARGETS, got '$1'" ;;
    esac
}

# existing_dir_arg PATH WHAT: PATH resolved, a usage error unless it is a folder.
existing_dir_arg() {
    [[ -d "$1" ]] || usage_error "$2 is not a folder: '$1'"
    realpath "$1"
}

# existing_file_arg PATH WHAT: PATH resolved, a usage error unless it is a file.
existing_file_arg() {
    [[ -f "$1" ]] || usage_error "$2 is not a file: '$1'"
    realpath "$1"
}

# existing_path_arg PATH WHAT: PATH (file or folder) resolved, a usage error unless it exists.
existing_path_arg() {
    [[ -e "$1" ]] || usage_error "$2 not found: '$1'"
    realpath "$1"
}

# device_id_arg VALUE: VALUE if it is a device number (non-negative integer).
device_id_arg() {
    is_non_negative_int "$1" || usage_error "DEVICE_ID must be a non-negative integer, got '$1'"
    echo "$1"
}

# process_count_arg VALUE: VALUE if it is a positive integer.
process_count_arg() {
    is_positive_int "$1" || usage_error "N (number of processes) must be a positive integer, got '$1'"
    echo "$1"
}

# launcher_arg NAME: NAME if it is msrun or mpirun.
launcher_arg() {
    case "$1" in
        msrun | mpirun) echo "$1" ;;
        *) usage_error "LAUNCHER must be msrun or mpirun, got '$1'" ;;
    esac
}

# output_dir_for MODEL_DIR KIND: $OUTPUT_DIR or MODEL_DIR/output/KIND, created and resolved.
output_dir_for() {
    local dir="${OUTPUT_DIR:-$1/output/$2}"
    mkdir -p "$dir" || fail "cannot create the output folder $dir"
    realpath "$dir"
}

# require_command NAME HINT: fail with HINT unless NAME is on the PATH.
require_command() {
    command -v "$1" > /dev/null 2>&1 || fail "'$1' not found on the PATH: $2"
}

# require_backend TARGET: stop before anything starts (one line `error: ...`, exit 2) unless this MindSpore
# build has TARGET's backend; checked for GPU, which no MindSpore release after 2.2 ships
# (zoo_core.runtime.devices; GLOG_v=4 keeps MindSpore's own loader messages out of that line).
require_backend() {
    [[ "$1" == GPU ]] || return 0
    local status=0
    GLOG_v=4 python -m zoo_core.runtime.devices check "$1" || status=$?
    ((status == 0)) || exit "$status"
}

# clear_distributed_env: a single-process run must not be taken for a rank of a distributed job left in the shell.
clear_distributed_env() {
    # shellcheck disable=SC2086
    unset $DISTRIBUTED_ENV_VARS
}

# free_port: an unused TCP port of this host (a small race with other programs is possible; MASTER_PORT avoids it).
free_port() {
    python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# print_log_tail FILE: the last LOG_TAIL_LINES lines of FILE on stderr, framed.
print_log_tail() {
    echo "----- last $LOG_TAIL_LINES lines of $1 -----" >&2
    tail -n "$LOG_TAIL_LINES" "$1" >&2 || true
    echo "----- end of $1 -----" >&2
}

# report_failed_workers LOG_DIR: the tails of the worker logs that show an error (all worker logs and the
# scheduler log when none does, e.g. after a crash without a Python traceback).
report_failed_workers() {
    local log_dir="$1" log found=0
    for log in "$log_dir"/worker_*.log; do
        [[ -f "$log" ]] || continue
        if grep -q -e 'Traceback (most recent call last)' -e 'exited with status' "$log"; then
            print_log_tail "$log"
            found=1
        fi
    done
    if ((found == 0)); then
        for log in "$log_dir"/worker_*.log "$log_dir"/scheduler.log; do
            [[ -f "$log" ]] && print_log_tail "$log"
        done
    fi
    return 0
}

# check_cluster_env LAUNCHER: the hosts of a run from NUM_NODES, NODE_RANK, MASTER_ADDR and MASTER_PORT,
# checked (a usage error, before anything is started); sets them with their defaults.
check_cluster_env() {
    NUM_NODES="${NUM_NODES:-1}"
    NODE_RANK="${NODE_RANK:-0}"
    MASTER_ADDR="${MASTER_ADDR:-}"
    is_positive_int "$NUM_NODES" || usage_error "NUM_NODES must be a positive integer, got '$NUM_NODES'"
    is_non_negative_int "$NODE_RANK" && ((NODE_RANK < NUM_NODES)) ||
        usage_error "NODE_RANK must be an integer from 0 to NUM_NODES-1 = $((NUM_NODES - 1)), got '$NODE_RANK'"
    if [[ -n "${MASTER_PORT:-}" ]]; then
        is_positive_int "$MASTER_PORT" && ((MASTER_PORT >= 1024 && MASTER_PORT <= 65535)) ||
            usage_error "MASTER_PORT must be a port number from 1024 to 65535, got '$MASTER_PORT'"
    fi
    if ((NUM_NODES > 1)); then
        [[ -n "$MASTER_ADDR" ]] || usage_error "NUM_NODES=$NUM_NODES: set MASTER_ADDR to the address of host 0" \
            "(NODE_RANK=0), the same on every host"
        [[ -n "${MASTER_PORT:-}" ]] || usage_error "NUM_NODES=$NUM_NODES: set MASTER_PORT, the same on every host" \
            "(a port that host 0 can open)"
        if [[ "$1" == mpirun ]]; then
            ((NODE_RANK == 0)) || usage_error "LAUNCHER=mpirun starts every host from host 0: run it there only" \
                "(NODE_RANK=0), not on host $NODE_RANK"
            [[ " ${MPIRUN_ARGS:-} " =~ [[:space:]](--hostfile|-hostfile|--machinefile|-machinefile|--host|-H)(=|[[:space:]]) ]] ||
                usage_error "LAUNCHER=mpirun on NUM_NODES=$NUM_NODES hosts: name them in MPIRUN_ARGS" \
                    "(e.g. MPIRUN_ARGS=\"--bind-to none --hostfile hosts.txt\")"
        fi
    fi
    MASTER_ADDR="${MASTER_ADDR:-$DEFAULT_MASTER_ADDR}"
}

# hosts_note: " on host NODE_RANK of NUM_NODES" for a multi-host run (after check_cluster_env), else nothing.
hosts_note() {
    ((NUM_NODES == 1)) || echo " on host $NODE_RANK of $NUM_NODES"
}

# launcher_log LOG_DIR: where the launcher's own output is kept: launcher.log beside LOG_DIR, never in it.
# msrun 2.7 greps its whole log folder after a failed run and prints the matches, which this file records:
# inside that folder, grep would read its own output and grow the file until the disk is full.
launcher_log() {
    echo "$(dirname "$1")/launcher.log"
}

# report_dead_workers LOG_DIR: name the rank of each worker process that msrun saw exit with an error (msrun
# names its process id only; MindSpore's lines in worker_<rank>.log carry that id as "(<pid>,").
report_dead_workers() {
    local log_dir="$1" pid code rank log how
    [[ -f "$(launcher_log "$log_dir")" ]] || return 0
    while read -r pid code; do
        rank="?"
        for log in "$log_dir"/worker_*.log; do
            if [[ -f "$log" ]] && grep -q "($pid," "$log"; then
                rank="${log##*/worker_}"
                rank="${rank%.log}"
            fi
        done
        if ((code == 130 || code == 143)); then  # train.py's graceful stop: saved, then exited 128 + signal
            echo "rank $rank (process $pid) stopped on a signal (exit status $code); run the same command to continue" >&2
            continue
        fi
        how="exit status $code"
        ((code >= 0)) || how="killed by signal SIG$(kill -l "$((-code))" 2> /dev/null || echo "$((-code))")"
        echo "error: rank $rank (process $pid) failed first: $how; the launcher then stopped the others" >&2
    done < <(sed -n 's/.*Worker process \([0-9]*\) exit with exception\. Error code: \(-\{0,1\}[0-9]*\)\..*/\1 \2/p' \
        "$(launcher_log "$log_dir")")
    return 0
}

# run_cluster LAUNCHER N LOG_DIR SCRIPT [ARGS...]: run `python SCRIPT ARGS` as N processes of a MindSpore
# dynamic cluster on this host (worker_<rank>.log and scheduler.log in LOG_DIR), wait for all of them,
# and fail with the failing workers' log tails if any process fails. With NUM_NODES hosts (check_cluster_env),
# msrun here starts this host's N workers, ranks NODE_RANK*N .. NODE_RANK*N+N-1 of N*NUM_NODES, and host 0 the
# scheduler; mpirun (run on host 0 only) starts all N*NUM_NODES over the hosts of MPIRUN_ARGS.
run_cluster() {
    local launcher="$1" count="$2" log_dir="$3"
    shift 3
    check_cluster_env "$launcher"
    local port="${MASTER_PORT:-}"
    [[ -n "$port" ]] || port="$(free_port)"
    mkdir -p "$log_dir"
    # msrun does not tell its workers how many of them share this host (setup_device's thread share).
    export ZOO_LOCAL_WORKER_NUM="$count"
    # HCCL's timeouts for Ascend ranks (zoo_core.runtime.hccl_env), unless the environment sets them.
    eval "$(python -m zoo_core.runtime.hccl_env)"
    if [[ "$launcher" == msrun ]]; then
        msrun_command "$count" "$port" "$log_dir" "$@"
    else
        mpirun_command "$count" "$port" "$log_dir" "$@"
    fi
    announce_cluster "$launcher" "$count" "$port" "$log_dir"
    start_and_wait_for_cluster "$log_dir"
    report_cluster "$launcher" "$count" "$log_dir"
}

# msrun_command N PORT LOG_DIR SCRIPT [ARGS...]: CLUSTER_COMMAND, msrun starting this host's N workers of
# N*NUM_NODES (and, on host 0, the scheduler), and CLUSTER_STOP_SIGNAL, what stops them.
msrun_command() {
    local count="$1" port="$2" log_dir="$3"
    shift 3
    require_command msrun "it comes with MindSpore >= 2.3: activate the environment that has MindSpore"
    CLUSTER_COMMAND=(msrun --worker_num=$((count * NUM_NODES)) --local_worker_num="$count" --node_rank="$NODE_RANK"
        --master_addr="$MASTER_ADDR" --master_port="$port" --log_dir="$log_dir" --join=True
        --cluster_time_out="$CLUSTER_TIME_OUT" --tail_worker_log=$((NODE_RANK * count)) "$@")
    # msrun stops its workers (each in a session of its own) on SIGINT, and only then.
    CLUSTER_STOP_SIGNAL=INT
}

# mpirun_command N PORT LOG_DIR SCRIPT [ARGS...]: CLUSTER_COMMAND, mpirun starting all N*NUM_NODES workers over
# the hosts of MPIRUN_ARGS (each through mpirun_worker.sh), and CLUSTER_STOP_SIGNAL, what stops them.
mpirun_command() {
    local count="$1" port="$2" log_dir="$3"
    shift 3
    require_command mpirun "install OpenMPI (e.g. apt-get install openmpi-bin), or use LAUNCHER=msrun"
    local mpirun_options=() extra_options=()
    # OpenMPI refuses to run as root unless told to.
    [[ "$(id -u)" != 0 ]] || mpirun_options+=(--allow-run-as-root)
    # Default: no core binding by OpenMPI (its default binds a rank to one core, starving the data pipeline).
    read -r -a extra_options <<< "${MPIRUN_ARGS---bind-to none}"
    CLUSTER_COMMAND=(env MS_SCHED_HOST="$MASTER_ADDR" MS_SCHED_PORT="$port" MS_TOPO_TIMEOUT="$CLUSTER_TIME_OUT"
        mpirun -n $((count * NUM_NODES)) -x MS_SCHED_HOST -x MS_SCHED_PORT -x MS_TOPO_TIMEOUT -x ZOO_LOCAL_WORKER_NUM
        -x HCCL_CONNECT_TIMEOUT
        ${mpirun_options[@]+"${mpirun_options[@]}"} ${extra_options[@]+"${extra_options[@]}"}
        bash "$ZOO_SCRIPTS_DIR/mpirun_worker.sh" "$log_dir" python "$@")
    CLUSTER_STOP_SIGNAL=TERM
}

# announce_cluster LAUNCHER N PORT LOG_DIR: one line saying what starts where.
announce_cluster() {
    local launcher="$1" count="$2" port="$3" log_dir="$4" first_rank=$((NODE_RANK * $2))
    if ((NUM_NODES > 1)); then
        echo "host $NODE_RANK of $NUM_NODES: starting ranks $first_rank..$((first_rank + count - 1)) of" \
            "$((count * NUM_NODES)) with $launcher (scheduler $MASTER_ADDR:$port); logs: $log_dir/worker_<rank>.log"
    else
        echo "starting $count processes with $launcher (scheduler port $port); logs: $log_dir/worker_<rank>.log"
    fi
}

# start_and_wait_for_cluster LOG_DIR: run CLUSTER_COMMAND in the background (so that an interrupt of this
# script is passed on as CLUSTER_STOP_SIGNAL and the workers are stopped; its output kept in
# `launcher_log LOG_DIR` too, for report_dead_workers) until it exits; sets CLUSTER_STATUS and
# CLUSTER_INTERRUPTED.
start_and_wait_for_cluster() {
    "${CLUSTER_COMMAND[@]}" > >(tee "$(launcher_log "$1")") 2>&1 &
    CLUSTER_LAUNCHER_PID=$!
    CLUSTER_INTERRUPTED=0
    trap 'CLUSTER_INTERRUPTED=1; kill "-$CLUSTER_STOP_SIGNAL" "$CLUSTER_LAUNCHER_PID" 2> /dev/null || true' INT TERM
    while :; do
        CLUSTER_STATUS=0
        wait "$CLUSTER_LAUNCHER_PID" || CLUSTER_STATUS=$?
        # A trapped signal ends `wait` early: wait again until the launcher itself has exited.
        ! kill -0 "$CLUSTER_LAUNCHER_PID" 2> /dev/null || continue
        break
    done
    trap - INT TERM
}

# report_cluster LAUNCHER N LOG_DIR: the outcome of start_and_wait_for_cluster: exit 130 when interrupted, the
# failing workers' log tails and failure when the launcher failed, else one line.
report_cluster() {
    local launcher="$1" count="$2" log_dir="$3"
    if ((CLUSTER_INTERRUPTED)); then
        echo "error: interrupted; the $launcher processes were stopped; logs in $log_dir" >&2
        exit 130
    fi
    if ((CLUSTER_STATUS != 0)); then
        report_failed_workers "$log_dir"
        report_dead_workers "$log_dir"
        fail "$launcher run failed (exit status $CLUSTER_STATUS); logs in $log_dir"
    fi
    if ((NUM_NODES > 1)); then
        echo "all $count processes of host $NODE_RANK finished; logs in $log_dir"
    else
        echo "all $count processes finished; logs in $log_dir"
    fi
}
