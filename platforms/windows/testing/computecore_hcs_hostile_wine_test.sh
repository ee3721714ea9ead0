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
wine_gtest 6 "$here/computecore_hcs_hostile_test_exe.exe"
wine_finish
