#!/usr/bin/env bash
# Stop the daemons tests/slurm/start_cluster.sh started (found by their pid files in $PLUS_SLURM_DIR, and only if
# the pid still belongs to that program), then remove the config files it wrote from /etc/slurm and put back any
# it had moved aside. `--keep-config` leaves /etc/slurm as it is (start_cluster.sh uses it to restart cleanly).
set -uo pipefail

DIR=${PLUS_SLURM_DIR:-/tmp/plus-slurm}
ETC=/etc/slurm
MARKER="# written by plus tests/slurm/start_cluster.sh"

stop_daemon() {
    local pidfile=$1 program=$2 pid
    [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$program" ]; then
        kill "$pid" 2>/dev/null
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        echo "stopped $program ($pid)"
    fi
    rm -f "$pidfile"
}

# Jobs still queued or running (a test that timed out) are cancelled while the controller is still up.
ctld_pid=$(cat "$DIR/slurmctld.pid" 2>/dev/null)
if [ -n "$ctld_pid" ] && [ "$(cat "/proc/$ctld_pid/comm" 2>/dev/null)" = slurmctld ]; then
    timeout 10 scancel --user="$(id -un)" 2>/dev/null
fi
stop_daemon "$DIR/slurmd.pid" slurmd
stop_daemon "$DIR/slurmctld.pid" slurmctld
stop_daemon "$DIR/munge/munged.pid" munged

if [ "${1:-}" != --keep-config ]; then
    for name in slurm.conf gres.conf; do
        if [ -e "$ETC/$name" ] && grep -qF "$MARKER" "$ETC/$name"; then
            rm -f "$ETC/$name"
        fi
        if [ -e "$DIR/etc-backup/$name" ]; then
            mv "$DIR/etc-backup/$name" "$ETC/$name"
        fi
    done
fi
exit 0
