#!/usr/bin/env bash
# WinsockTransport and WindowsRuntime (the code a Windows host runs) under
# Wine: loopback TCP streams, close and EOF semantics, refused addresses,
# and Hyper-V sockets refused precisely (Wine has no AF_HYPERV).
set -u
WINE_SUITE=WinsockTransport
source "${TEST_SRCDIR}/${TEST_WORKSPACE:-hcsshim_cpp}/tools/build_defs/wine_env.sh"
here="${TEST_SRCDIR}/${TEST_WORKSPACE:-hcsshim_cpp}/platforms/windows/testing"
wine_run wineboot >/dev/null 2>&1
wine_gtest 10 "$here/winsock_transport_test_exe.exe"
wine_finish
