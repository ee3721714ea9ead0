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
wine_gtest 5 "$dir/win_process_test_exe.exe"
wine_finish
