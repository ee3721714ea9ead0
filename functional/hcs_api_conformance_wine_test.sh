#!/usr/bin/env bash
# The portable HCS and HNS API suites built for Windows, run by Debian's
# wine64: hcs_api_conformance.exe drives ComputeCoreHcs and
# ComputeNetworkHns, which load the stand-in computecore.dll,
# computenetwork.dll and vmcompute.dll from System32 (as they load the real
# ones), which forward each call to the fake HCS daemon (Linux) over
# loopback TCP. Then one
# scenario is recorded there and replayed by the Linux build of the same
# suite - a run on a Windows host becomes a test on Linux - and a replay
# that does something else is told where it diverged.
set -u
WINE_SUITE=HcsApiUnderWine
source "${TEST_SRCDIR}/${TEST_WORKSPACE:-hcsshim_cpp}/tools/build_defs/wine_env.sh"
here="${TEST_SRCDIR}/${TEST_WORKSPACE:-hcsshim_cpp}"
exe="$here/functional/hcs_api_conformance_exe.exe"
linux="$here/functional/hcs_api_conformance_test"
standins="$here/platforms/windows/standin"
# The Linux suite, without Bazel's output files (they are this test's).
linux_run() { env -u XML_OUTPUT_FILE -u GTEST_OUTPUT -u TEST_PREMATURE_EXIT_FILE -u GTEST_SHARD_STATUS_FILE "$linux" "$@"; }
wine_standin_daemon
state=$standin_state
export HCS_BACKEND=standin
# The utility VM scenario's boot files, as the fake daemon (Linux) sees them;
# stand-ins: the fake checks that they exist and boots nothing. ("kernel",
# not "vmlinux": Wine cannot see a Linux path, and both builds must pick
# the same file for the replay to match.)
mkdir -p "$state/boot"
echo stand-in >"$state/boot/kernel"
echo stand-in >"$state/boot/initrd.img"
export HCS_UVM_BOOT_FILES="$state/boot"

# The prefix, then the stand-ins where Windows keeps the real DLLs.
wine_run wineboot >/dev/null 2>&1
for d in computecore computenetwork vmcompute; do
  cp -L "$standins/$d.dll" "$WINEPREFIX/drive_c/windows/system32/$d.dll"
done

# 1. The whole suite, each scenario's HCS traffic recorded (HCS_RECORD=<dir>\).
recs="$state/recordings"
mkdir -p "$recs"
out=$(HCS_RECORD="Z:${recs//\//\\}\\" wine_run "$exe" 2>&1); code=$?
echo "$out" | grep -E '^\[ *(OK|FAILED|SKIPPED|PASSED) *\]|Failure|Expected|Which is|error' | head -80
# Each scenario in the report, as the Windows build ran it.
while read -r name; do
  if grep -qE "^\[ +OK \] $name " <<<"$out"; then
    wine_result "$name" ok "under Wine"
  elif grep -qE "^\[ +SKIPPED \] $name " <<<"$out"; then
    wine_result "$name" skip "skipped by the suite under Wine (its reason is in the log above)"
  else
    wine_result "$name" fail "under Wine: $(grep -A3 -E "^\[ RUN +\] $name\$" <<<"$out" | grep -m1 -E 'Failure|error|Unhandled' || echo 'did not finish')"
  fi
done < <(grep -oE '^\[ RUN +\] [A-Za-z0-9_.]+' <<<"$out" | awk '{print $NF}')
total=$(grep -cE '^\[ RUN +\]' <<<"$out")
passed=$(grep -cE '^\[ +OK \]' <<<"$out")
skipped=$(grep -cE '^\[ +SKIPPED \] [A-Za-z0-9_.]+ \(' <<<"$out")
if [ "$code" != 0 ] || [ "$total" -lt 21 ] || [ "$passed" != "$total" ]; then
  echo "$out" | tail -40
  wine_result WindowsSuiteUnderWine fail "hcs_api_conformance.exe: exit $code, $passed of $total scenarios passed, $skipped skipped (none may skip here)"
else
  wine_result WindowsSuiteUnderWine ok "hcs_api_conformance.exe: $passed of $total HCS and HNS scenarios passed"
fi

# 2. Every HCS scenario's Wine recording, replayed by the Linux build of the suite.
scenario=HcsApiConformance.CreateStartShutdownExitsGracefully
rec="$recs/$scenario.jsonl"
if ! grep -q '"op":"shutDownComputeSystem"' "$rec" 2>/dev/null || ! grep -q '"event":' "$rec"; then
  head -5 "$rec" 2>/dev/null
  wine_result RecordedUnderWine fail "$scenario: no shutDownComputeSystem call or notification recorded"
else
  wine_result RecordedUnderWine ok "$(ls "$recs" | wc -l) scenario recordings; $scenario: $(wc -l <"$rec") lines"
fi
# (Not the utility VM scenario: its document names the boot files by their
# Windows path, and a Linux replay without HCS_UVM_BOOT_FILES skips it. Not
# the stdio one: recordings hold no stdio bytes - src/hcs/recording.h.)
out=$(HCS_REPLAY="$recs/" linux_run --gtest_filter='HcsApiConformance.*:-HcsApiConformance.AUtilityVm*:HcsApiConformance.AProcesssStdio*' 2>&1); code=$?
replayed=$(grep -cE '^\[ +OK \]' <<<"$out")
if [ "$code" != 0 ] || [ "$replayed" -lt 10 ]; then
  echo "$out" | grep -E 'FAILED|Failure|call #' | head -30
  wine_result ReplayedOnLinux fail "the Linux suite replaying the Wine recordings: exit $code, $replayed scenarios passed"
else
  wine_result ReplayedOnLinux ok "the Linux suite replayed all $replayed HCS scenarios from their Wine recordings"
fi
# ... and a scenario that does something else is told where it diverged.
out=$(HCS_REPLAY="$rec" linux_run --gtest_filter=HcsApiConformance.TerminateIsAForcedExit 2>&1); code=$?
if [ "$code" = 0 ] || ! grep -qE 'call #[0-9]+' <<<"$out"; then
  echo "$out" | tail -30
  wine_result DivergenceNamed fail "a diverging replay passed or did not name the call: exit $code"
else
  wine_result DivergenceNamed ok "$(grep -oE 'call #[0-9]+[^"]*' <<<"$out" | head -1 | cut -c1-120)"
fi

# 3. The vendor's bundle, as on a Windows host (HCS_BACKEND unset: run.cmd
# sets hyperv, so the stand-ins play the real DLLs): fake-only scenarios
# skip with their reason, the rest pass, the report folder is complete.
bundle="$state/bundle"
cp -rL "$here/tools/conformance/hyperv-bundle" "$bundle" && chmod -R u+w "$bundle"
out=$(unset HCS_BACKEND; cd "$bundle" && wine_run cmd /c run.cmd 2>&1); code=$?
xml="$bundle/report/conformance.xml"
cases=$(grep -c '<testcase' "$xml" 2>/dev/null)
skips=$(grep -o '<skipped message="[^"]*needs a compute system only the fake HCS runs' "$xml" 2>/dev/null | wc -l)
if [ "$code" != 0 ] || ! grep -q 'RESULT: PASS' <<<"$out" || [ "${cases:-0}" -lt 15 ] || [ "${skips:-0}" -lt 1 ] ||
   [ ! -s "$bundle/report/host.txt" ] || [ -z "$(ls "$bundle/report/recordings" 2>/dev/null)" ]; then
  echo "$out" | tail -30
  wine_result VendorBundleUnderWine fail "run.cmd: exit $code, $cases scenarios in the report, $skips skipped as fake-only"
else
  wine_result VendorBundleUnderWine ok "run.cmd: RESULT: PASS; $cases scenarios in report\\conformance.xml, $skips skipped as fake-only"
fi

# 3. Without the daemon: every call fails with HCS_E_SERVICE_NOT_AVAILABLE, no hang, no crash.
out=$(HCS_STANDIN_ADDRESS=tcp://127.0.0.1:1 wine_run "$exe" --gtest_filter=HcsApiConformance.EnumerateAnswersAJsonArray 2>&1); code=$?
if [ "$code" != 1 ] || ! grep -q '0x80370114' <<<"$out"; then
  echo "$out" | tail -20
  wine_result NoServiceIsServiceNotAvailable fail "exit $code (want 1, HCS_E_SERVICE_NOT_AVAILABLE)"
else
  wine_result NoServiceIsServiceNotAvailable ok "every call fails with HCS_E_SERVICE_NOT_AVAILABLE"
fi
wine_finish
