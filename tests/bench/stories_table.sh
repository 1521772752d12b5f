#!/usr/bin/env bash
# The README's stories260K table: Karpathy's stories260K (llama2.c) pruned at 50% with magnitude
# and wanda in each group, then measured as llama2.c's run.c does on
# TinyStories-valid.first69.txt (one BOS per story, windows of 513 ids predicting 512 tokens).
# Calibration: 128 windows of 256 tokens from tinystories_val.txt after its first 60,000 bytes
# (the 69 evaluation stories are cut from its start). Prints Markdown.
# Usage: GRADPROBE_DATA=../shared/data tests/bench/stories_table.sh [gradprobe binary]
set -euo pipefail
bin=${1:-build/release/bin/gradprobe}
data=${GRADPROBE_DATA:?set GRADPROBE_DATA to the shared data folder}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model=$data/stories260K/stories260K.bin
calib=(--calib "$data/tinystories/tinystories_val.txt" --calib-skip-bytes 60000)

loss() {  # model path -> "loss | perplexity"
    "$bin" eval --model "$1" --text "$data/tinystories/TinyStories-valid.first69.txt" \
        --doc-separator '<|endoftext|>' --seqlen 513 --json 2>/dev/null |
        python3 -c 'import json, sys; d = json.load(sys.stdin); print("%.4f | %.2f" % (d["nll"], d["ppl"]))'
}

echo "| method | group | sparsity | loss | perplexity |"
echo "| --- | --- | --- | --- | --- |"
echo "| none | | 0 | $(loss "$model") |"
for method in magnitude wanda; do
    for group in global layer row; do
        out=$work/$method-$group
        sparsity=$("$bin" prune --model "$model" --method "$method" --group "$group" --sparsity 0.5 \
            "${calib[@]}" --nsamples 128 --seqlen 256 --no-eval \
            --format llama2c --out "$out" --json 2>/dev/null |
            python3 -c 'import json, sys; print("%.4f" % json.load(sys.stdin)["sparsity"])')
        echo "| $method | $group | $sparsity | $(loss "$out/stories260K.bin") |"
    done
done
# The Wanda reference's own setting: 64 windows, its sequential scheme (later blocks calibrated on
# the outputs of the pruned blocks before them), per output row.
out=$work/wanda-sequential
"$bin" prune --model "$model" --method wanda --group row --sparsity 0.5 --blockwise \
    --block-inputs pruned "${calib[@]}" --nsamples 64 --seqlen 256 --seed 0 --no-eval \
    --format llama2c --out "$out" --json >/dev/null 2>&1
echo "| wanda | row, sequential, 64 windows | 0.5000 | $(loss "$out/stories260K.bin") |"

