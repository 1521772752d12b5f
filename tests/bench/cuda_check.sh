#!/usr/bin/env bash
# The CUDA check (for a machine with an NVIDIA GPU and a pip torch installed; nothing is
# downloaded): builds GradProbe against the LibTorch inside that pip torch, runs the engine tests
# (the GPU ones — tst_select's exactOnGpuEqualsCpu, tst_blockwise's gpuBlockwiseEqualsGpuWholeModel
# — skip everywhere else), then times `gradprobe bench select` for gpt-neo-33m and
# mistral-7b-layer on the GPU beside the same run on the CPU, and prints one table.
#
#   tests/bench/cuda_check.sh [BUILD_DIR]       (default build/cuda; PYTHON=python3)
#
# Results (JSON per run, the table, the test log) go to $OUT if set, else BUILD_DIR/cuda-check.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/cuda}
python=${PYTHON:-python3}
results=${OUT:-$build/cuda-check}
mkdir -p "$results"
export OMP_WAIT_POLICY=PASSIVE

read -r torch_version torch_cuda torch_abi prefix < <("$python" -c '
import torch
print(torch.__version__, torch.version.cuda, int(torch._C._GLIBCXX_USE_CXX11_ABI),
      torch.utils.cmake_prefix_path)')
echo "pip torch $torch_version, CUDA $torch_cuda, C++11 ABI $torch_abi, CMake files in $prefix"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
if [ "$torch_cuda" = "None" ]; then
    echo "cuda_check: this torch has no CUDA; install a CUDA wheel" >&2
    exit 2
fi
if [ "$torch_abi" != 1 ]; then
    # The facade passes std::string to Qt code built with the C++11 ABI (README, CUDA LibTorch).
    echo "cuda_check: this torch uses the pre-C++11 ABI; use PyTorch >= 2.7 or a cxx11 build" >&2
    exit 2
fi

# The engine tests need Qt 6 Test; without it only the CLI (and the benchmark) is built.
configure() {
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
        -DGRADPROBE_BUILD_GUI=OFF -DGRADPROBE_BUILD_TESTS="$1"
}
tests=ON
if ! configure ON; then
    echo "cuda_check: configuring with the tests failed (Qt 6 Test missing?); CLI only" >&2
    tests=OFF
    rm -rf "$build"
    configure OFF
fi
cmake --build "$build" -j "$(nproc)"
gradprobe=$build/bin/gradprobe

if [ "$tests" = ON ]; then
    ctest --test-dir "$build" -L unit --output-on-failure -j 4 2>&1 | tee "$results/ctest.log"
    # The GPU tests themselves, verbosely: they must have run, not skipped.
    "$build/tests/tst_select" exactOnGpuEqualsCpu 2>&1 | tee -a "$results/ctest.log"
    "$build/tests/tst_blockwise" gpuBlockwiseEqualsGpuWholeModel 2>&1 | tee -a "$results/ctest.log"
fi

for model in gpt-neo-33m mistral-7b-layer; do
    for device in cpu cuda; do
        "$gradprobe" bench select --synthetic "$model" --device "$device" \
            --sparsity 0.1,0.5,0.9 --json >"$results/select-$model-$device.json"
    done
done

"$python" - "$results" <<'EOF' | tee "$results/table.md"
import json, sys, pathlib
folder = pathlib.Path(sys.argv[1])
print("| model | sparsity | method | CPU median s | GPU median s | CPU / GPU | agreement (GPU) |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for model in ("gpt-neo-33m", "mistral-7b-layer"):
    runs = {d: json.loads((folder / f"select-{model}-{d}.json").read_text()) for d in ("cpu", "cuda")}
    def rows(run):
        return {(r["sparsity"], r["method"]): r for r in run["results"]}
    cpu, gpu = rows(runs["cpu"]), rows(runs["cuda"])
    for key in sorted(cpu):
        if key not in gpu:
            continue
        c, g = cpu[key]["seconds_median"], gpu[key]["seconds_median"]
        print(f"| {model} | {key[0]} | {key[1]} | {c:.4f} | {g:.4f} | {c / g:.1f}x | "
              f"{gpu[key].get('agreement', float('nan')):.6f} |")
EOF
echo "cuda_check: results in $results"
