#!/usr/bin/env bash
# The README's methods table: stories260K (llama2.c) pruned by magnitude, WANDA and SparseGPT, each
# with and without OWL (--layer-sparsity owl), at 30/40/50/60% and 2:4, then measured as llama2.c's
# run.c does on TinyStories-valid.first69.txt (one BOS per story, windows of 513 ids). Calibration:
# 64 windows of 256 tokens from tinystories_val.txt after its first 60,000 bytes, the same windows
# for every run (same seed). Each method in its usual group (magnitude global, wanda row,
# sparsegpt layer; with OWL each layer is cut at its own target). Prints Markdown.
# Usage: GRADPROBE_DATA=../shared/data tests/bench/methods_table.sh [gradprobe binary] [model]
set -euo pipefail
bin=${1:-build/release/bin/gradprobe}
data=${GRADPROBE_DATA:?set GRADPROBE_DATA to the shared data folder}
model=${2:-$data/stories260K/stories260K.bin}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tail -c +60001 "$data/tinystories/tinystories_val.txt" > "$work/calibration.txt"

loss() {  # model path -> loss
    "$bin" eval --model "$1" --text "$data/tinystories/TinyStories-valid.first69.txt" \
        --doc-separator '<|endoftext|>' --seqlen 513 --json 2>/dev/null |
        python3 -c 'import json, sys; print("%.4f" % json.load(sys.stdin)["nll"])'
}

cell() {  # prune arguments... -> "loss (achieved sparsity)"
    local out=$work/run
    local sparsity
    sparsity=$("$bin" prune --model "$model" "$@" --calib "$work/calibration.txt" --nsamples 64 \
        --seqlen 256 --no-eval --format llama2c --out "$out" --force --json 2>/dev/null |
        python3 -c 'import json, sys; print("%.1f%%" % (100 * json.load(sys.stdin)["sparsity"]))')
    echo "$(loss "$out"/*.bin) ($sparsity)"
}

echo "dense loss: $(loss "$model")"
echo
echo "| method | 30% | 40% | 50% | 60% | 2:4 |"
echo "| --- | --- | --- | --- | --- | --- |"
for method in magnitude wanda sparsegpt; do
    for owl in "" owl; do
        row="| $method${owl:+ + OWL} |"
        for s in 0.3 0.4 0.5 0.6; do
            row="$row $(cell --method $method --sparsity $s ${owl:+--layer-sparsity owl}) |"
        done
        if [ -z "$owl" ]; then
            row="$row $(cell --method $method --group nm --nm 2:4) |"
        else
            row="$row n/a (N:M fixes every layer) |"
        fi
        echo "$row"
    done
done
