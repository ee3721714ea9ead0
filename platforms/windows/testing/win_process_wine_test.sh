#!/usr/bin/env bash
# WinProcessRunner (CreateProcessW) under Wine, starting win_child.exe.
set -u
WINE_SUITE=WinProcess
source "${TEST_SRCDIR}/${TEST_WORKSPACE:-hcsshim_cpp}/tools/build_defs/wine_env.sh"
here="${TEST_SRCDIR}/${TEST_WORKSPACE:-hcsshim_cpp}/platforms/windows/testing"
wine_run wineboot >/dev/null 2>&1
# The child next to the test (the test finds it beside itself).
dir="$wine_dir/bin"
mkdir -p "$dir"
cp -L "$here/win_process_test_exe.exe" "$here/win_child_exe.exe" "$dir/"
out=$(wine_run "$dir/win_process_test_exe.exe" 2>&1); code=$?
echo "$out" | grep -E '^\[ *(RUN|OK|FAILED) *\]|Failure|Expected|Which is|Unhandled|Actual'
while read -r name; do
  if grep -qE "^\[ +OK \] $name " <<<"$out"; then
    wine_result "$name" ok "under Wine"
  else
    wine_result "$name" fail "under Wine: did not pass"
  fi
done < <(grep -oE '^\[ RUN +\] [A-Za-z0-9_.]+' <<<"$out" | awk '{print $NF}')
total=$(grep -cE '^\[ RUN +\]' <<<"$out")
if [ "$code" != 0 ] || [ "$total" -lt 5 ]; then
  echo "$out" | tail -40
  wine_result WinProcessSuite fail "exit $code, $total scenarios ran"
else
  wine_result WinProcessSuite ok "$total scenarios"
fi
wine_finish
