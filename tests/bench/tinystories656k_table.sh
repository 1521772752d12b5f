#!/usr/bin/env bash
# The README's TinyStories-656K table: raincandy-u/TinyStories-656K (Hugging Face folder, stored
# as it is) pruned at 50% with magnitude and wanda, then scored per document as
# lm-evaluation-harness scores text on TinyStories-valid.first69.txt (BOS + each story alone).
# Calibration: 128 windows of 256 tokens from tinystories_val.txt after its first 60,000 bytes
# (the 69 evaluation stories are cut from its start). Prints Markdown.
# Usage: GRADPROBE_DATA=../shared/data tests/bench/tinystories656k_table.sh [gradprobe binary]
set -euo pipefail
bin=${1:-build/release/bin/gradprobe}
data=${GRADPROBE_DATA:?set GRADPROBE_DATA to the shared data folder}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model=$data/tinystories-656k
tail -c +60001 "$data/tinystories/tinystories_val.txt" > "$work/calibration.txt"

scores() {  # model path -> "nll | ppl | word ppl | bits per byte"
    "$bin" eval --model "$1" --text "$data/tinystories/TinyStories-valid.first69.txt" \
        --doc-separator '<|endoftext|>' --per-document --json 2>/dev/null |
        python3 -c 'import json, sys; d = json.load(sys.stdin); print("%.4f | %.2f | %.2f | %.4f" % (d["nll"], d["ppl"], d["word_perplexity"], d["bits_per_byte"]))'
}

echo "| method | group | sparsity | loss per token | perplexity | word perplexity | bits per byte |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
echo "| none | | 0 | $(scores "$model") |"
for run in "magnitude global" "magnitude row" "wanda row"; do
    set -- $run
    out=$work/$1-$2
    sparsity=$("$bin" prune --model "$model" --method "$1" --group "$2" --sparsity 0.5 \
        --calib "$work/calibration.txt" --nsamples 128 --seqlen 256 --no-eval --out "$out" \
        --json 2>/dev/null | python3 -c 'import json, sys; print("%.4f" % json.load(sys.stdin)["sparsity"])')
    echo "| $1 | $2 | $sparsity | $(scores "$out") |"
done
