#!/usr/bin/env bash
# Runs `bazel test` and ends with one plain line: "N passed, N failed".
# Counts test targets from Bazel's summary; exit status is Bazel's
# (0 ok, 1 build error, 3 test failures, 4 no tests found).
# Usage: tools/ci_test.sh [bazel test flags/targets...]   (default //...)
set -uo pipefail
cd "$(dirname "$0")/.."
has_target=0
for a in "$@"; do case "$a" in -*) ;; *) has_target=1 ;; esac; done
# The whole suite also builds the Windows binaries (mingw-w64): a build
# failure there counts as one failed test.
windows_failed=0
if [ "$has_target" -eq 0 ]; then
  windows=(//platforms/windows/... //tools/hcsdiag //tools/hnsdiag //tools/uvmboot //src/bridge:hvsock_address
           //src/bridge:hvsock_host //src/hcs:recording //src/storage:hcs_storage_api //functional:hcs_api_conformance
           //src/shim //src/ttrpc //src/shim/cmd:containerd-shim-runhcs-v1_windows //functional:shim_windows_test)
  if bazel build --config=mingw --keep_going "${windows[@]}"; then
    echo "windows binaries (bazel build --config=mingw ${windows[*]}): built"
  else
    echo "windows binaries (bazel build --config=mingw ${windows[*]}): FAILED"
    windows_failed=1
  fi
  set -- "$@" //...
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
bazel test --keep_going "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if [ "$windows_failed" -ne 0 ] && [ "$rc" -eq 0 ]; then rc=1; fi
target='^(//|@)[^ ]+ +(\(cached\) )?'
passed=$(grep -cE "${target}(PASSED|FLAKY)" "$log")
failed=$(grep -cE "${target}(FAILED|TIMEOUT|NO STATUS|INCOMPLETE|REMOTE FAILURE)" "$log")
# With --keep_going, targets that fail analysis are absent from the summary.
failed=$((failed + $(grep -c "^WARNING: errors encountered while analyzing target" "$log")))
# A loading/analysis/build error can abort before any per-target line is printed.
failed=$((failed + windows_failed))
if [ "$rc" -ne 0 ] && [ "$rc" -ne 4 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "${passed} passed, ${failed} failed"
exit "$rc"
