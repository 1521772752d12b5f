#!/usr/bin/env bash
# The README's pruning table: magnitude, wanda, magnitude + probe and wanda + probe at 10-60%
# target sparsity on the demo model (one-shot; each method with its default group; probe tau 2.0
# for magnitude and 1.0 for wanda, the TinyStories examples' values). Prints Markdown.
# Usage: [METHODS=wanda] tests/bench/prune_table.sh [gradprobe binary] [model]
# (METHODS: the score methods whose rows to run, default "magnitude wanda")
set -euo pipefail
bin=${1:-build/release/bin/gradprobe}
model=${2:-resources/demo-model}
methods=${METHODS:-magnitude wanda}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

run() {  # method, sparsity, extra flags...
    local method=$1 sparsity=$2
    shift 2
    "$bin" prune --model "$model" --method "$method" --sparsity "$sparsity" --json "$@" 2>/dev/null |
        python3 -c 'import json, sys
d = json.load(sys.stdin)
print("%.2f%% | %.3f | %.1f s" % (100 * d["sparsity"], d["ppl_after"], d["seconds"]["total"]))'
}

echo "| target | method | achieved sparsity | perplexity | time |"
echo "| --- | --- | --- | --- | --- |"
declare -A tau=([magnitude]=2.0 [wanda]=1.0)
for sparsity in 0.1 0.2 0.3 0.4 0.5 0.6; do
    for method in $methods; do
        echo "| $sparsity | $method | $(run "$method" $sparsity) |"
    done
    for method in $methods; do
        echo "| $sparsity | $method + probe | $(run "$method" $sparsity --probe --probe-threshold "${tau[$method]}") |"
    done
done
