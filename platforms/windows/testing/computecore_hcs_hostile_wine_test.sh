#!/usr/bin/env bash
# ComputeCoreHcs (the code a Windows host runs) against a hostile
# computecore.dll installed where Windows keeps the real one: malformed and
# non-UTF-16 documents, an unknown HRESULT, a missing export and a callback
# after close - precise errors, no crash, no hang.
set -u
WINE_SUITE=HostileComputeCore
source "${TEST_SRCDIR}/${TEST_WORKSPACE:-hcsshim_cpp}/tools/build_defs/wine_env.sh"
here="${TEST_SRCDIR}/${TEST_WORKSPACE:-hcsshim_cpp}/platforms/windows/testing"
wine_run wineboot >/dev/null 2>&1
cp -L "$here/hostile_computecore.dll" "$WINEPREFIX/drive_c/windows/system32/computecore.dll"
out=$(wine_run "$here/computecore_hcs_hostile_test_exe.exe" 2>&1); code=$?
echo "$out" | grep -E '^\[ *(RUN|OK|FAILED) *\]|Failure|Expected|Which is|Unhandled'
while read -r name; do
  if grep -qE "^\[ +OK \] $name " <<<"$out"; then
    wine_result "$name" ok "under Wine"
  else
    wine_result "$name" fail "under Wine: did not pass"
  fi
done < <(grep -oE '^\[ RUN +\] [A-Za-z0-9_.]+' <<<"$out" | awk '{print $NF}')
total=$(grep -cE '^\[ RUN +\]' <<<"$out")
if [ "$code" != 0 ] || [ "$total" -lt 6 ]; then
  echo "$out" | tail -30
  wine_result HostileSuite fail "exit $code, $total scenarios ran"
else
  wine_result HostileSuite ok "$total scenarios"
fi
wine_finish
