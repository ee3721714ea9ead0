#!/usr/bin/env bash
# ComputeStorage under Wine: first with no computestorage.dll (Wine has
# none: every call names the missing DLL), then with the stand-in in
# System32 (fake_computestorage.cc).
set -u
WINE_SUITE=ComputeStorage
source "${TEST_SRCDIR}/${TEST_WORKSPACE:-hcsshim_cpp}/tools/build_defs/wine_env.sh"
here="${TEST_SRCDIR}/${TEST_WORKSPACE:-hcsshim_cpp}/platforms/windows/testing"
exe="$here/computestorage_test_exe.exe"
wine_run wineboot >/dev/null 2>&1
report() {  # report OUTPUT CODE MIN: one result per scenario, then the run's
  local out=$1 code=$2 min=$3 name total
  echo "$out" | grep -E '^\[ *(RUN|OK|FAILED) *\]|Failure|Expected|Which is|Unhandled|Actual'
  while read -r name; do
    if grep -qE "^\[ +OK \] $name " <<<"$out"; then
      wine_result "$name" ok "under Wine"
    else
      wine_result "$name" fail "under Wine: did not pass"
    fi
  done < <(grep -oE '^\[ RUN +\] [A-Za-z0-9_.]+' <<<"$out" | awk '{print $NF}')
  total=$(grep -cE '^\[ RUN +\]' <<<"$out")
  if [ "$code" != 0 ] || [ "$total" -lt "$min" ]; then
    echo "$out" | tail -30
    wine_result "Run$min" fail "exit $code, $total scenarios ran"
  fi
}
out=$(wine_run "$exe" --gtest_filter='*WithoutTheDll*' 2>&1); report "$out" $? 1
cp -L "$here/fake_computestorage.dll" "$WINEPREFIX/drive_c/windows/system32/computestorage.dll"
out=$(wine_run "$exe" --gtest_filter='-*WithoutTheDll*' 2>&1); report "$out" $? 5
wine_finish
