#!/usr/bin/env bash
# Start a throw-away single-node SLURM cluster (Debian's slurm-wlm + munge, no systemd, no accounting) with two
# fake GPUs, for tests/test_slurm.py. Run as root. Idempotent: daemons left over from an earlier run in the same
# state directory are stopped first, and the config files are rewritten every time.
#
# Everything the daemons write (munge key and socket, state, spool, logs, pid files) lives in $PLUS_SLURM_DIR.
# The config must sit at /etc/slurm/slurm.conf: snakemake's slurm-jobstep plugin drops SLURM_CONF before the
# inner `srun`, which then only finds the compiled-in default path. A slurm.conf/gres.conf already there that
# this script did not write is moved to $PLUS_SLURM_DIR/etc-backup/ and put back by stop_cluster.sh.
#
# Environment: PLUS_SLURM_DIR (/tmp/plus-slurm), PLUS_SLURM_CTLD_PORT (16817), PLUS_SLURM_SLURMD_PORT (16818),
# PLUS_SLURM_GPUS (2), PLUS_SLURM_MINJOBAGE (3600: squeue must still list finished jobs when snakemake asks, and
# tests/test_slurm.py reads every job's record with scontrol after the whole run, which under load took 13 min).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${PLUS_SLURM_DIR:-/tmp/plus-slurm}
CTLD_PORT=${PLUS_SLURM_CTLD_PORT:-16817}
SLURMD_PORT=${PLUS_SLURM_SLURMD_PORT:-16818}
GPUS=${PLUS_SLURM_GPUS:-2}
MINJOBAGE=${PLUS_SLURM_MINJOBAGE:-3600}
ETC=/etc/slurm
MARKER="# written by plus tests/slurm/start_cluster.sh"

for tool in munged munge slurmctld slurmd sinfo sbatch squeue; do
    command -v "$tool" >/dev/null || { echo "start_cluster: $tool not found (apt-get install slurm-wlm munge)" >&2; exit 3; }
done

# A test cluster left running by an earlier run (this directory or the one named in our slurm.conf) is stopped.
PREVIOUS=$(grep -sF "$MARKER" "$ETC/slurm.conf" >/dev/null && sed -n 's|^StateSaveLocation=\(.*\)/state$|\1|p' "$ETC/slurm.conf" || true)
for old in $(printf '%s\n' "$DIR" ${PREVIOUS:+"$PREVIOUS"} | sort -u); do
    PLUS_SLURM_DIR=$old bash "$HERE/stop_cluster.sh" --keep-config >/dev/null
done

mkdir -p "$DIR"/{munge,state,spool,log,etc-backup} "$ETC"
chmod 700 "$DIR/munge"
rm -f "$DIR"/log/*.log

# A config someone else wrote is kept aside, never overwritten.
for name in slurm.conf gres.conf; do
    if [ -e "$ETC/$name" ] && ! grep -qF "$MARKER" "$ETC/$name"; then
        mv "$ETC/$name" "$DIR/etc-backup/$name"
    fi
done

# 1. munge with its own key and socket (not /run/munge, so a system munged is left alone).
if [ ! -s "$DIR/munge/munge.key" ]; then
    head -c 1024 /dev/urandom >"$DIR/munge/munge.key"
    chmod 400 "$DIR/munge/munge.key"
fi
munged --force --socket="$DIR/munge/munge.socket" --key-file="$DIR/munge/munge.key" \
    --pid-file="$DIR/munge/munged.pid" --seed-file="$DIR/munge/munged.seed" --log-file="$DIR/log/munged.log"
munge -n -S "$DIR/munge/munge.socket" | unmunge -S "$DIR/munge/munge.socket" >/dev/null

# 2. slurm.conf and gres.conf. RealMemory below what slurmd detects (else the node drains).
CPUS=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)  # nproc obeys OMP_NUM_THREADS; the node has them all
MEM_MB=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
write_atomically() {
    local target=$1 tmp
    tmp=$(mktemp "$target.XXXX")
    cat >"$tmp"
    chmod 644 "$tmp"
    mv "$tmp" "$target"
}
{
    echo "$MARKER"
    echo "AutoDetect=off"
    for ((i = 0; i < GPUS; i++)); do
        # Any character device stands in for a GPU; SLURM still sets CUDA_VISIBLE_DEVICES from its index.
        echo "NodeName=localhost Name=gpu Type=fake File=/dev/$([ $((i % 2)) -eq 0 ] && echo null || echo zero)"
    done
} | write_atomically "$ETC/gres.conf"
write_atomically "$ETC/slurm.conf" <<CONF
$MARKER (state in $DIR)
ClusterName=plustest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=$MINJOBAGE
SlurmdTimeout=300
SchedulerType=sched/backfill
GresTypes=gpu
NodeName=localhost NodeHostname=$(hostname) NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB Gres=gpu:fake:$GPUS State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF

# 3. the daemons fork into the background and write their pid files into $DIR.
slurmctld -f "$ETC/slurm.conf"
slurmd -f "$ETC/slurm.conf" -N localhost

# 4. ready when the node is idle.
for _ in $(seq 1 60); do
    state=$(timeout 5 sinfo -h -n localhost -o %T 2>/dev/null || true)
    [ "$state" = idle ] && { echo "slurm cluster up: state in $DIR, config $ETC/slurm.conf"; exit 0; }
    sleep 0.5
done
echo "start_cluster: node not idle after 30 s (state '${state:-none}'); logs in $DIR/log" >&2
tail -n 5 "$DIR"/log/slurmctld.log "$DIR"/log/slurmd.log >&2 || true
exit 1
