#!/usr/bin/env bash
# containerd-shim-runhcs-v1.exe under Wine as containerd on Windows drives
# it (shim_windows_test.cc: start/serve over named pipes, the log pipe, the
# task service, Create through the stand-in computecore.dll to the fake HCS
# - failing where Wine has no AF_HYPERV - Shutdown, delete), then: the fake
# HCS is left with no compute system (the failed Create removed its VM).
set -u
WINE_SUITE=ShimUnderWine
source "${TEST_SRCDIR}/${TEST_WORKSPACE:-hcsshim_cpp}/tools/build_defs/wine_env.sh"
here="${TEST_SRCDIR}/${TEST_WORKSPACE:-hcsshim_cpp}"
wine_standin_host
state=$standin_state
# The shim in a folder of its own, as a vendor installs it.
mkdir -p "$WINEPREFIX/drive_c/shim"
cp -L "$here/src/shim/cmd/containerd-shim-runhcs-v1_exe.exe" "$WINEPREFIX/drive_c/shim/containerd-shim-runhcs-v1.exe"
export SHIM_EXE='C:\shim\containerd-shim-runhcs-v1.exe'
# (The fake HCS runs on Linux: it finds the boot files by their Linux path.)
export SHIM_BOOT_FILES="$state/boot"
wine_gtest 6 "$here/functional/shim_windows_test_exe.exe"
left=$(HCS_FAKE_ADDRESS="unix://$state/hcs.sock" "$here/tools/hcsdiag/hcsdiag" list 2>&1)
if grep -qE "task|pod" <<<"$left"; then
  wine_result NoComputeSystemLeft fail "the fake HCS still has: $left"
else
  wine_result NoComputeSystemLeft ok "no compute system left"
fi
if grep -qE "event=hcs_fake.system.created id=[^ ]*task" "$state/daemon.log"; then
  wine_result CreateReachedTheFakeHcs ok "$(grep -m1 -oE 'event=hcs_fake.system.created id=[^ ]*task[^ ]*' "$state/daemon.log")"
else
  wine_result CreateReachedTheFakeHcs fail "the daemon's log shows no VM for the task: $(tail -20 "$state/daemon.log")"
fi
wine_finish
