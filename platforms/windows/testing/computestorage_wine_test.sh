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
wine_gtest 1 "$exe" --gtest_filter='*WithoutTheDll*'
cp -L "$here/fake_computestorage.dll" "$WINEPREFIX/drive_c/windows/system32/computestorage.dll"
wine_gtest 5 "$exe" --gtest_filter='-*WithoutTheDll*'
wine_finish
