#!/usr/bin/env bash
# Whole-model versus block-wise pruning of one checkpoint, side by side in one run: wall time,
# peak RSS (/usr/bin/time), perplexity before and after, and whether the two pruned checkpoints
# are byte-identical. The default model is a 284 M-parameter LLaMA with random bf16 weights made
# by tests/bench/random_llama.py (the README's "Block-wise" table).
#
#   tests/bench/blockwise_table.sh [GRADPROBE] [MODEL_DIR] [WORK_DIR]
#
# Defaults: build/release/bin/gradprobe, WORK_DIR/random-284m (generated when missing),
# WORK_DIR = build/blockwise-table.
set -euo pipefail
cd "$(dirname "$0")/../.."
gradprobe=${1:-build/release/bin/gradprobe}
work=${3:-build/blockwise-table}
model=${2:-$work/random-284m}
export OMP_WAIT_POLICY=PASSIVE
mkdir -p "$work"
[ -f "$model/model.safetensors" ] || tests/bench/random_llama.py --out "$model"

common=(--nsamples 16 --seqlen 256 --batch-size 4 --eval-max-windows 4 --force)
runs=("wanda|--method wanda" "wanda + probe|--method wanda --probe --probe-threshold 0.1 --probe-batches 2")

echo "| run | mode | wall s | peak RSS GiB | ppl before | ppl after | pruned | same file |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for run in "${runs[@]}"; do
    name=${run%%|*}
    read -r -a options <<<"${run#*|}"
    for mode in whole blockwise; do
        extra=()
        [ "$mode" = blockwise ] && extra=(--blockwise)
        out=$work/out-${name// /}-$mode
        /usr/bin/time -f "%e %M" -o "$work/time" "$gradprobe" prune --model "$model" \
            "${options[@]}" "${common[@]}" "${extra[@]}" --out "$out" --json >"$work/$mode.json" \
            2>"$work/$mode.log"
        read -r wall rss <"$work/time"
        same=""
        [ "$mode" = blockwise ] &&
            { cmp -s "$work/out-${name// /}-whole/model.safetensors" "$out/model.safetensors" &&
                same=yes || same=NO; }
        python3 - "$work/$mode.json" "$name" "$mode" "$wall" "$rss" "$same" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
name, mode, wall, rss, same = sys.argv[2:]
print(f"| {name} | {mode} | {float(wall):.1f} | {int(rss) / 1024 / 1024:.2f} | "
      f"{r['ppl_before']:.4f} | {r['ppl_after']:.4f} | {r['pruned']:,} | {same} |")
EOF
    done
done
