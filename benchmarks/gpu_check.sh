#!/usr/bin/env bash
# GPU checks of the package, one JSON line per check on stdout (progress and logs on stderr):
#   1-3. pretraining throughput (residues/s) and peak GPU memory in bf16: PLUS-RNN BASE and LARGE (our exact
#        padded biLSTM against cuDNN's packed biLSTM, in the same run) and PLUS-TFM;
#   4-5. a tiny pretrain -> fine-tune -> evaluate chain on one GPU in bf16 (RNN and Transformer), finite losses;
#   6.   the same chain with DDP on 2 GPUs, or a line saying why it was skipped.
# A failed check prints {"check": ..., "ok": false, "exit_code": ...} and the script goes on; it exits 1 if any
# check failed. Sized for well under 10 minutes on one H100/H200; each check has its own time limit.
#
#   benchmarks/gpu_check.sh                 # or: timeout 600 benchmarks/gpu_check.sh > gpu_check.jsonl
# Environment: PYTHON (default python), CHECK_TIMEOUT (seconds per check, default 240), GPU_CHECK_WORKDIR.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python}"
check_timeout="${CHECK_TIMEOUT:-240}"
export PYTHONPATH="${repo}${PYTHONPATH:+:${PYTHONPATH}}"

if ! gpus="$("$python" -c 'import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)' 2>/dev/null)" \
    || [[ "$gpus" -lt 1 ]]; then
    echo "gpu_check.sh: no CUDA device visible to ${python} (torch.cuda.is_available() is False): run it on a GPU machine" >&2
    exit 2
fi

workdir="${GPU_CHECK_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")}"
if [[ -z "${GPU_CHECK_WORKDIR:-}" ]]; then
    trap 'rm -rf "$workdir"' EXIT
fi
trap 'exit 143' TERM INT  # under `timeout`, still run the EXIT trap
failed=0

# tag NAME STATUS LINE: LINE (a JSON object) with the check's name, "ok" and "exit_code" in front.
tag() {
    "$python" -c '
import json, sys
name, status, line = sys.argv[1], int(sys.argv[2]), sys.argv[3]
print(json.dumps({"check": name, "ok": status == 0, "exit_code": status, **json.loads(line)}))
' "$@"
}

# run_check NAME COMMAND...: run a check under its time limit and print its JSON line, tagged; a line even if
# the command printed none.
run_check() {
    local name="$1" output status=0 timed_out=false
    shift
    echo "gpu_check.sh: ${name}: $*" >&2
    output="$(timeout "$check_timeout" "$@")" || status=$?
    if [[ "$status" -ne 0 ]]; then
        failed=1
    fi
    if tag "$name" "$status" "$(tail -n 1 <<<"$output")" 2>/dev/null; then
        return
    fi
    if [[ "$status" -eq 124 || "$status" -eq 137 ]]; then
        timed_out=true
    fi
    echo "{\"check\": \"${name}\", \"ok\": false, \"exit_code\": ${status}, \"timed_out\": ${timed_out}}"
    failed=1
}

throughput=("$python" "$repo/benchmarks/pretrain_throughput.py" --device cuda --precision bf16 --steps 10 --warmup 3)
run_check throughput_rnn_base "${throughput[@]}" --preset plus-rnn-base --pairs 64 --compare-impl
run_check throughput_rnn_large "${throughput[@]}" --preset plus-rnn-large --pairs 64 --compare-impl
run_check throughput_tfm "${throughput[@]}" --preset plus-tfm --pairs 128

chain=("$python" "$repo/benchmarks/gpu_smoke_chain.py" --device cuda --precision bf16 --pretrain-steps 60)
run_check chain_rnn_1gpu "${chain[@]}" --gpus 1 --preset plus-rnn-tiny --workdir "$workdir/rnn"
run_check chain_tfm_1gpu "${chain[@]}" --gpus 1 --preset plus-tfm-tiny --workdir "$workdir/tfm"
if [[ "$gpus" -ge 2 ]]; then
    run_check chain_rnn_ddp2 "${chain[@]}" --gpus 2 --preset plus-rnn-tiny --workdir "$workdir/ddp"
else
    echo "{\"check\": \"chain_rnn_ddp2\", \"ok\": null, \"skipped\": true, \"reason\": \"${gpus} CUDA device visible; DDP needs 2\"}"
fi
exit "$failed"
