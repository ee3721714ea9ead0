#!/usr/bin/env bash
# The portable HCS API suite built for Windows, run by Debian's wine64:
# hcs_api_conformance.exe drives ComputeCoreHcs, which loads the stand-in
# computecore.dll from System32 (as it loads the real one), which forwards
# each call to the fake HCS daemon (Linux) over loopback TCP. Then one
# scenario is recorded there and replayed by the Linux build of the same
# suite - a run on a Windows host becomes a test on Linux - and a replay
# that does something else is told where it diverged.
set -u
source "${TEST_SRCDIR}/${TEST_WORKSPACE}/tools/build_defs/wine_env.sh"
here="${TEST_SRCDIR}/${TEST_WORKSPACE}"
exe="$here/functional/hcs_api_conformance_exe.exe"
linux="$here/functional/hcs_api_conformance_test"
dll="$here/platforms/windows/standin/computecore.dll"
state="$(mktemp -d /tmp/hcs-wine-XXXXXX)"
# The Linux suite, without Bazel's output files (they are this test's).
linux_run() { env -u XML_OUTPUT_FILE -u GTEST_OUTPUT -u TEST_PREMATURE_EXIT_FILE -u GTEST_SHARD_STATUS_FILE "$linux" "$@"; }
daemon_pid=
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  rm -rf "$state"
}
trap cleanup EXIT

head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$state/token"
"$here/hcs_fake/hcs_fake" --address "unix://$state/hcs.sock" --state-dir "$state" --vm-backend none \
  --standin tcp://127.0.0.1:0 --standin-token-file "$state/token" >"$state/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do [ -s "$state/standin.address" ] && break; sleep 0.1; done
if [ ! -s "$state/standin.address" ]; then
  echo "FAIL: the fake HCS daemon did not serve the stand-in:"; cat "$state/daemon.log"; exit 1
fi
export HCS_STANDIN_ADDRESS="$(cat "$state/standin.address")" HCS_STANDIN_TOKEN="$(cat "$state/token")"
export HCS_BACKEND=standin

# The prefix, then the stand-in where Windows keeps computecore.dll.
wine_run wineboot >/dev/null 2>&1
cp -L "$dll" "$WINEPREFIX/drive_c/windows/system32/computecore.dll"

# 1. The whole suite.
out=$(wine_run "$exe" 2>&1); code=$?
echo "$out" | grep -E '^\[ *(OK|FAILED|SKIPPED|PASSED) *\]|Failure|Expected|Which is|error' | head -80
total=$(grep -cE '^\[ RUN +\]' <<<"$out")
passed=$(grep -cE '^\[ +OK \]' <<<"$out")
if [ "$code" != 0 ] || [ "$total" -lt 10 ] || [ "$passed" != "$total" ]; then
  echo "FAIL: hcs_api_conformance.exe under Wine: exit $code, $passed of $total scenarios passed (none may skip here)"
  echo "$out" | tail -40
  fails=$((fails + 1))
else
  echo "ok: hcs_api_conformance.exe under Wine: $passed of $total scenarios passed"
fi

# 2. Record one scenario under Wine, replay it on Linux.
# (a scenario that waits for a notification: the recording must carry it)
scenario=HcsApiConformance.CreateStartShutdownExitsGracefully
rec="$state/wine-run.jsonl"
out=$(HCS_RECORD="Z:${rec//\//\\}" wine_run "$exe" --gtest_filter="$scenario" 2>&1); code=$?
if [ "$code" != 0 ] || ! grep -q '"op":"shutDownComputeSystem"' "$rec" 2>/dev/null || ! grep -q '"event":' "$rec"; then
  echo "FAIL: recording $scenario under Wine: exit $code"; echo "$out" | tail -20; cat "$rec" 2>/dev/null | head -5
  fails=$((fails + 1))
else
  echo "ok: recorded under Wine: $(wc -l <"$rec") lines"
fi
out=$(HCS_REPLAY="$rec" linux_run --gtest_filter="$scenario" 2>&1); code=$?
if [ "$code" != 0 ] || ! grep -q '\[  PASSED  \] 1 test' <<<"$out"; then
  echo "FAIL: the Linux suite replaying the Wine recording: exit $code"; echo "$out" | tail -30
  fails=$((fails + 1))
else
  echo "ok: the Linux suite replayed the Wine recording of $scenario"
fi
# ... and a scenario that does something else is told where it diverged.
out=$(HCS_REPLAY="$rec" linux_run --gtest_filter=HcsApiConformance.TerminateIsAForcedExit 2>&1); code=$?
if [ "$code" = 0 ] || ! grep -qE 'call #[0-9]+' <<<"$out"; then
  echo "FAIL: a diverging replay passed or did not name the call: exit $code"; echo "$out" | tail -30
  fails=$((fails + 1))
else
  echo "ok: divergence named: $(grep -oE 'call #[0-9]+[^"]*' <<<"$out" | head -1)"
fi

# 3. Without the daemon: every call fails with HCS_E_SERVICE_NOT_AVAILABLE, no hang, no crash.
out=$(HCS_STANDIN_ADDRESS=tcp://127.0.0.1:1 wine_run "$exe" --gtest_filter=HcsApiConformance.EnumerateAnswersAJsonArray 2>&1); code=$?
if [ "$code" != 1 ] || ! grep -q '0x80370114' <<<"$out"; then
  echo "FAIL: no service: exit $code (want 1, HCS_E_SERVICE_NOT_AVAILABLE)"; echo "$out" | tail -20
  fails=$((fails + 1))
else
  echo "ok: no service: HCS_E_SERVICE_NOT_AVAILABLE"
fi
exit $fails
