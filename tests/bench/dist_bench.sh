#!/usr/bin/env bash
# WANDA calibration as 1 process and as N ranks of `gradprobe launch` (one thread each), on this
# machine: the calibrate stage's wall seconds (rank 0's, which includes waiting for the slowest
# rank at the gather), the speed ratio, each rank's peak RSS, and whether the exported models
# are the same bytes.
# Usage: tests/bench/dist_bench.sh GRADPROBE [MODEL] [NSAMPLES] [NPROC] [extra prune options...]
set -euo pipefail
bin=$(realpath "$1"); model=$(realpath "${2:-resources/demo-model}"); nsamples=${3:-128}; nproc=${4:-2}
shift $(( $# < 4 ? $# : 4 ))
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
common=(prune --model "$model" --method wanda --sparsity 0.5 --nsamples "$nsamples" --batch-size 4
        --no-eval --json "$@")
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
"$bin" "${common[@]}" --out "$tmp/one" > "$tmp/one.json" 2> "$tmp/one.err"
"$bin" launch --nproc "$nproc" -- "${common[@]}" --out "$tmp/many" > "$tmp/many.json" 2> "$tmp/many.err"
python3 - "$tmp" "$nproc" <<'PY'
import json, sys, filecmp
tmp, nproc = sys.argv[1], int(sys.argv[2])
one, many = json.load(open(f"{tmp}/one.json")), json.load(open(f"{tmp}/many.json"))
ranks = json.load(open(f"{tmp}/many/report.json"))["distributed"]["ranks"]
c1, cn = one["seconds"]["calibrate"], many["seconds"]["calibrate"]
print(f"calibrate: 1 process {c1:.2f} s, {nproc} ranks {cn:.2f} s, speed-up x{c1 / cn:.2f}")
print(f"total: 1 process {one['seconds']['total']:.2f} s, {nproc} ranks {many['seconds']['total']:.2f} s")
print(f"peak RSS: 1 process {one['peak_rss_mb']:.0f} MB; ranks " +
      ", ".join(f"{r['rank']}: {r['peak_rss_bytes'] / 2**20:.0f} MB "
                f"(batches {r['calibration_batch_begin']}-{r['calibration_batch_end']})" for r in ranks))
same = filecmp.cmp(f"{tmp}/one/model.safetensors", f"{tmp}/many/model.safetensors", shallow=False)
print("model.safetensors byte-identical:", "yes" if same else "NO")
PY
