#!/usr/bin/env bash
# The test command of the README: configure (warnings as errors), build, and
# run every test with fresh kernel caches. Usage: tests/run.sh [BUILD_DIR]
# MPI is required (GLF_MPI=ON), so the data-parallel tests always run;
# GLF_MPI=AUTO or OFF in the environment builds without it.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
cmake -S . -B "$dir" -DGLF_WERROR=ON -DGLF_SANITIZE="${GLF_SANITIZE:-OFF}" \
      -DGLF_MPI="${GLF_MPI:-ON}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
cd "$dir"
ctest --output-on-failure -j"$(nproc)"
