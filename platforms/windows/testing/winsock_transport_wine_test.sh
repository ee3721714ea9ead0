#!/usr/bin/env bash
# WinsockTransport and WindowsRuntime (the code a Windows host runs) under
# Wine: loopback TCP streams, close and EOF semantics, refused addresses,
# and Hyper-V sockets refused precisely (Wine has no AF_HYPERV).
set -u
WINE_SUITE=WinsockTransport
source "${TEST_SRCDIR}/${TEST_WORKSPACE:-hcsshim_cpp}/tools/build_defs/wine_env.sh"
here="${TEST_SRCDIR}/${TEST_WORKSPACE:-hcsshim_cpp}/platforms/windows/testing"
wine_run wineboot >/dev/null 2>&1
out=$(wine_run "$here/winsock_transport_test_exe.exe" 2>&1); code=$?
echo "$out" | grep -E '^\[ *(RUN|OK|FAILED) *\]|Failure|Expected|Which is|Unhandled|Actual'
while read -r name; do
  if grep -qE "^\[ +OK \] $name " <<<"$out"; then
    wine_result "$name" ok "under Wine"
  else
    wine_result "$name" fail "under Wine: did not pass"
  fi
done < <(grep -oE '^\[ RUN +\] [A-Za-z0-9_.]+' <<<"$out" | awk '{print $NF}')
total=$(grep -cE '^\[ RUN +\]' <<<"$out")
if [ "$code" != 0 ] || [ "$total" -lt 8 ]; then
  echo "$out" | tail -30
  wine_result WinsockTransportSuite fail "exit $code, $total scenarios ran"
else
  wine_result WinsockTransportSuite ok "$total scenarios"
fi
wine_finish
