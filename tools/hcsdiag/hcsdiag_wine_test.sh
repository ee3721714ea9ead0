#!/usr/bin/env bash
# hcsdiag.exe under Wine: the Windows build loads computecore.dll at run
# time; Wine has no HCS, so every command that needs HCS fails naming the
# missing DLL and its Win32 error (not a crash, not a load failure of the
# .exe itself); usage and exec behave as documented.
set -u
source "${TEST_SRCDIR}/${TEST_WORKSPACE}/tools/build_defs/wine_env.sh"
exe="${TEST_SRCDIR}/${TEST_WORKSPACE}/tools/hcsdiag/hcsdiag_exe.exe"
expect() { wine_expect "$exe" "$@"; }
expect 1 "EnumerateComputeSystems: computecore.dll could not be loaded: error 126 (the module was not found) [Unavailable, HRESULT 0x8007007E]" -- list
expect 1 "OpenComputeSystem(vm-1): computecore.dll could not be loaded: error 126" -- start vm-1
expect 1 "cannot read C:\\no\\such\\file.json [NotFound" -- create vm-1 'C:\no\such\file.json'
expect 1 "OpenComputeSystem(vm-1): computecore.dll could not be loaded: error 126" -- exec vm-1 /bin/true
expect 2 "usage: hcsdiag" -- frobnicate
expect 2 "usage: hcsdiag" -- start
# A recording made under Wine replays on Linux: the same answer, and a
# client that does something else is told where.
linux="${TEST_SRCDIR}/${TEST_WORKSPACE}/tools/hcsdiag/hcsdiag"
rec="${TEST_TMPDIR}/wine-list.jsonl"
wine_run "$exe" "--record=Z:${rec//\//\\}" list >/dev/null 2>&1
if ! grep -q '"op":"enumerateComputeSystems"' "$rec"; then
  echo "FAIL: hcsdiag.exe --record wrote no enumerateComputeSystems call:"; cat "$rec"; fails=$((fails + 1))
fi
out=$("$linux" --replay="$rec" list 2>&1); code=$?
if [ "$code" != 1 ] || ! grep -qF "computecore.dll could not be loaded: error 126" <<<"$out"; then
  echo "FAIL: the Linux replay of the Wine recording: exit $code: $out"; fails=$((fails + 1))
else
  echo "ok: replayed on Linux: $out"
fi
out=$("$linux" --replay="$rec" start vm-1 2>&1); code=$?
if [ "$code" != 1 ] || ! grep -qF "call #0: expected enumerateComputeSystems, got openComputeSystem" <<<"$out"; then
  echo "FAIL: a diverging replay: exit $code: $out"; fails=$((fails + 1))
else
  echo "ok: divergence named: $(grep -F diverged <<<"$out" | tail -1)"
fi
# exec through the stand-in computecore.dll (the fake HCS daemon behind
# it): the process's stdio pipes carry its output and our stdin.
here="${TEST_SRCDIR}/${TEST_WORKSPACE}"
wine_standin_daemon
state=$standin_state
cp -L "$here/platforms/windows/standin/computecore.dll" "$WINEPREFIX/drive_c/windows/system32/computecore.dll"
echo '{"Owner":"hcsdiag-wine","SchemaVersion":{"Major":2,"Minor":1},"Container":{}}' > "$state/c1.json"
HCS_FAKE_ADDRESS="unix://$state/hcs.sock" "$linux" create c1 "$state/c1.json" >/dev/null &&
  HCS_FAKE_ADDRESS="unix://$state/hcs.sock" "$linux" start c1 >/dev/null || { echo "FAIL: could not make c1"; fails=$((fails + 1)); }
wine_run "$exe" exec c1 /bin/sh -c 'echo out-line; echo err-line >&2; exit 4' >"$state/exec.out" 2>&1; code=$?
out=$(grep -v '^wine: ' "$state/exec.out")
if [ "$code" = 4 ] && grep -qx "out-line" <<<"$out" && grep -qx "err-line" <<<"$out"; then
  echo "ok: exec through the stand-in: exit 4, both streams"
else
  echo "FAIL: exec through the stand-in: exit $code (want 4): $out"; fails=$((fails + 1))
fi
out=$(printf 'piped in\n' | wine_run "$exe" exec -i c1 /bin/cat 2>/dev/null); code=$?
if [ "$code" = 0 ] && [ "$out" = "piped in" ]; then
  echo "ok: exec -i: stdin reached the process"
else
  echo "FAIL: exec -i: exit $code: [$out]"; fails=$((fails + 1))
fi
exit $fails
