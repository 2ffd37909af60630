#!/usr/bin/env bash
# The test command of the README: configure (warnings as errors), build, and
# run every test with fresh kernel caches.
#
# usage: tests/run.sh [BUILD_DIR] [--device SPEC] [--small] [-R REGEX]
#   BUILD_DIR      build folder (default: build)
#   --device SPEC  run every test on that OpenCL device (GLF_DEVICE; e.g.
#                  llvmpipe for Mesa's rusticl, which is then enabled with
#                  RUSTICL_ENABLE=llvmpipe unless that is set already)
#   --small        GLF_TEST_SIZE=small: leave out the largest shapes, for slow
#                  devices (the odd shapes, guards and NaN fills stay)
#   -R REGEX       only the tests whose name matches (ctest -R)
# MPI is required (GLF_MPI=ON), so the data-parallel tests always run;
# GLF_MPI=AUTO or OFF in the environment builds without it.
# GLF_TEST_POCL_CACHE_FROM=DIR (another build's test-cache folder): start
# every test from that build's PoCL cache instead of cold.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build
regex=""
while [ $# -gt 0 ]; do
    case "$1" in
    --device)
        [ $# -ge 2 ] || { echo "tests/run.sh: --device needs a spec" >&2; exit 2; }
        export GLF_DEVICE="$2"
        case "$2" in *llvmpipe*) export RUSTICL_ENABLE="${RUSTICL_ENABLE:-llvmpipe}" ;; esac
        shift 2 ;;
    --small) export GLF_TEST_SIZE=small; shift ;;
    -R)
        [ $# -ge 2 ] || { echo "tests/run.sh: -R needs a regular expression" >&2; exit 2; }
        regex="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "tests/run.sh: unknown option '$1' (see tests/run.sh --help)" >&2; exit 2 ;;
    *) dir="$1"; shift ;;
    esac
done
cmake -S . -B "$dir" -DGLF_WERROR=ON -DGLF_SANITIZE="${GLF_SANITIZE:-OFF}" \
      -DGLF_MPI="${GLF_MPI:-ON}" -DGLF_TEST_POCL_CACHE_FROM="${GLF_TEST_POCL_CACHE_FROM:-}" \
      >/dev/null
cmake --build "$dir" -j"$(nproc)"
if [ -n "${GLF_DEVICE:-}" ]; then
    # Fail at once, naming the devices, when the spec matches none.
    "$dir/glf" devices --device "$GLF_DEVICE" >/dev/null
    echo "tests on: $("$dir/glf" devices --device "$GLF_DEVICE" | sed -n 's/^\* //p')"
fi
cd "$dir"
if [ -n "$regex" ]; then
    ctest --output-on-failure -j"$(nproc)" -R "$regex" # (the cache_reset fixture comes along)
else
    ctest --output-on-failure -j"$(nproc)"
fi
# Every tests/test_*.c is one CMocka executable and one ctest test. Each test
# gets its own fresh PoCL and glf kernel-cache folders (wiped by the
# cache_reset fixture), so runs start cold and parallel tests never share a
# cache folder.
