#!/usr/bin/env bash
# README command 2: set up, build, and run every test through CTest (the `slow` label excluded;
# run those with: ctest --test-dir build/release -L slow). Tests that need the shared data read
# $GRADPROBE_DATA and skip with a message when it is unset.
set -euo pipefail
cd "$(dirname "$0")/.."
app/setup.sh
ctest --preset release --output-on-failure --no-tests=error -j2 "$@"
