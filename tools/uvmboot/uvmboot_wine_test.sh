#!/usr/bin/env bash
# uvmboot.exe under Wine against the fake HCS through the stand-in
# computecore.dll: the VM is created from the shim's document and its
# RuntimeId read (as on Windows), then its first Hyper-V socket listener
# fails - Wine has no AF_HYPERV - and uvmboot says so, names the port,
# terminates the VM and exits 1; the fake HCS is left with no compute system.
set -u
WINE_SUITE=UvmbootUnderWine
source "${TEST_SRCDIR}/${TEST_WORKSPACE:-hcsshim_cpp}/tools/build_defs/wine_env.sh"
here="${TEST_SRCDIR}/${TEST_WORKSPACE:-hcsshim_cpp}"
exe="$here/tools/uvmboot/uvmboot_exe.exe"
wine_standin_host
state=$standin_state

out=$(wine_run "$exe" lcow --boot-files-path "$state/boot" --exec "echo hi" 2>&1); code=$?
echo "$out"
if [ "$code" = 1 ] && grep -qF "Start: listen on vsock port 1" <<<"$out" && grep -qF "AF_HYPERV needs Windows with Hyper-V" <<<"$out" &&
  grep -qF "1 VMs in sequence, 1 failed" <<<"$out"; then
  wine_result NoHyperVSocketsIsNamed ok "exit 1: $(grep -m1 FAILED <<<"$out")"
else
  wine_result NoHyperVSocketsIsNamed fail "exit $code (want 1 naming vsock port 1 and AF_HYPERV): $out"
fi
# Through the stand-in: created from the shim's document, its RuntimeId read, terminated.
log=$(cat "$state/daemon.log")
if grep -qE "event=hcs_fake.system.created id=uvmboot-[0-9]+-0 type=VirtualMachine" <<<"$log" &&
  grep -qE "event=hcs_fake.system.exited id=uvmboot-[0-9]+-0 " <<<"$log"; then
  wine_result TheVmWasCreatedAndTerminated ok "$(grep -m1 -oE 'event=hcs_fake.system.exited id=uvmboot-[^ ]+ exit_type=[A-Za-z]+' <<<"$log")"
else
  wine_result TheVmWasCreatedAndTerminated fail "the daemon's log does not show the VM created and exited: $(tail -20 <<<"$log")"
fi
left=$(HCS_FAKE_ADDRESS="unix://$state/hcs.sock" "$here/tools/hcsdiag/hcsdiag" list 2>&1)
if grep -q "uvmboot-" <<<"$left"; then
  wine_result NothingLeft fail "the fake HCS still has: $left"
else
  wine_result NothingLeft ok "no compute system left"
fi
out=$(wine_run "$exe" frobnicate 2>&1); code=$?
if [ "$code" = 2 ] && grep -qF "usage: uvmboot.exe lcow" <<<"$out"; then
  wine_result Usage ok "exit 2"
else
  wine_result Usage fail "exit $code: $out"
fi
wine_finish
