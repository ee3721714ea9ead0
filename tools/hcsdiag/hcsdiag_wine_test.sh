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
expect 1 "E_NOTIMPL" -- exec vm-1 /bin/true
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
exit $fails
