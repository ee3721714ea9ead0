# wine_env.sh: sourced by wine_test scripts - a private Wine prefix and the
# loader, quiet. wine_run EXE ARGS... runs a Windows binary and keeps its
# exit code.
WINE=${WINE:-/usr/lib/wine/wine64}
if [ ! -x "$WINE" ]; then
  echo "wine_env: $WINE not found (Debian's wine64 package; tools/setup installs it)" >&2
  exit 1
fi
# The prefix lives under /tmp, not TEST_TMPDIR: the conformance runner's
# TEST_TMPDIR is inside the workspace, and a prefix links to / and $HOME.
# wine_cleanup removes it (called at exit; a script with its own EXIT trap
# calls it from there).
wine_dir=$(mktemp -d /tmp/hcs-wineprefix-XXXXXX)
export WINEPREFIX="$wine_dir/prefix"
wine_cleanup() {
  [ -n "${standin_pid:-}" ] && kill "$standin_pid" 2>/dev/null && wait "$standin_pid" 2>/dev/null
  standin_pid=
  [ -n "${wine_dir:-}" ] || return 0
  WINEPREFIX="$WINEPREFIX" /usr/lib/wine/wineserver -k >/dev/null 2>&1 || true
  rm -rf "$wine_dir"
  wine_dir=
}
trap wine_cleanup EXIT
export WINEDEBUG=-all
# Wine maps Windows file names to the host's in the locale's charset: under
# Bazel's bare environment (no LANG) a name like "layer-ü中" cannot be made.
export LANG=C.UTF-8
export WINEDLLOVERRIDES="mscoree,mshtml="  # no Mono/Gecko installers when the prefix is made
# (Bazel's test variables name Linux paths a Windows gtest cannot open.)
# A run that does not end within WINE_TIMEOUT seconds (default 150) is
# killed and says so (exit 124): a hang is a failure with a name, not a
# silent kill of the whole test.
wine_run() {
  echo "wine: $(basename "$1") ${*:2}" >&2
  timeout -k 5 "${WINE_TIMEOUT:-150}" env -u XML_OUTPUT_FILE -u GTEST_OUTPUT -u TEST_PREMATURE_EXIT_FILE \
    -u TEST_UNDECLARED_OUTPUTS_DIR -u TEST_WARNINGS_OUTPUT_FILE -u GTEST_SHARD_STATUS_FILE "$WINE" "$@"
  local code=$?
  [ "$code" = 124 ] && echo "wine: $(basename "$1") did not end within ${WINE_TIMEOUT:-150} s" >&2
  return "$code"
}

# wine_expect EXE CODE PATTERN -- ARGS...: runs EXE ARGS under Wine and
# checks its exit code and that its output contains PATTERN; counts a
# mismatch in $fails.
fails=0
wine_expect() {
  local exe=$1 want=$2 pattern=$3
  shift 4
  local out code name
  name=$(basename "$exe")
  out=$(wine_run "$exe" "$@" 2>&1)
  code=$?
  if [ "$code" != "$want" ] || ! grep -qF -- "$pattern" <<<"$out"; then
    echo "FAIL: $name $*: exit $code (want $want), output:"
    echo "$out"
    echo "(wanted it to contain: $pattern)"
    fails=$((fails + 1))
  else
    echo "ok: $name $* -> $code: $(grep -F -- "$pattern" <<<"$out" | head -1)"
  fi
}

# wine_result NAME ok|skip|fail MESSAGE: one check's outcome - printed,
# counted in $fails if failed, and kept for wine_finish's report.
wine_results=()
wine_result() {
  local name=$1 outcome=$2 message=$3
  if [ "$outcome" = ok ]; then
    echo "ok: $name: $message"
  elif [ "$outcome" = skip ]; then
    echo "skipped: $name: $message"
  else
    echo "FAIL: $name: $message"
    fails=$((fails + 1))
  fi
  wine_results+=("$name"$'\t'"$outcome"$'\t'"$message")
}

# wine_gtest MIN EXE ARGS...: runs a gtest EXE under Wine; each scenario it
# started is a result (ok only if it passed), and the run one more
# ("<exe>: exit N, M scenarios") that fails if it exited non-zero or ran
# fewer than MIN scenarios.
wine_gtest() {
  local min=$1 exe=$2 out code name total
  shift 2
  out=$(wine_run "$exe" "$@" 2>&1); code=$?
  echo "$out" | grep -E '^\[ *(RUN|OK|FAILED|SKIPPED) *\]|Failure|Expected|Which is|Unhandled|Actual'
  while read -r name; do
    if grep -qE "^\[ +OK \] $name " <<<"$out"; then
      wine_result "$name" ok "under Wine"
    else
      wine_result "$name" fail "under Wine: did not pass"
    fi
  done < <(grep -oE '^\[ RUN +\] [A-Za-z0-9_.]+' <<<"$out" | awk '{print $NF}')
  total=$(grep -cE '^\[ RUN +\]' <<<"$out")
  if [ "$code" != 0 ] || [ "$total" -lt "$min" ]; then
    echo "$out" | tail -40
    wine_result "$(basename "$exe") $*" fail "exit $code, $total scenarios ran (want >= $min)"
  else
    wine_result "$(basename "$exe") $*" ok "$total scenarios"
  fi
}

# wine_standin_daemon: the fake HCS daemon (hcs_fake from the runfiles, no
# VM backend) serving the stand-in DLLs' service on loopback; its state and
# log in $standin_state (under the prefix's directory); exports
# HCS_STANDIN_ADDRESS and HCS_STANDIN_TOKEN. wine_cleanup stops it. Fails
# the test if it does not serve.
standin_pid=
wine_standin_daemon() {
  standin_state="$wine_dir/standin"
  local dir=$standin_state
  mkdir -p "$dir"
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/token"
  "${TEST_SRCDIR}/${TEST_WORKSPACE:-hcsshim_cpp}/hcs_fake/hcs_fake" --address "unix://$dir/hcs.sock" --state-dir "$dir" \
    --vm-backend none --standin tcp://127.0.0.1:0 --standin-token-file "$dir/token" >"$dir/daemon.log" 2>&1 &
  standin_pid=$!
  for _ in $(seq 600); do [ -s "$dir/standin.address" ] && break; sleep 0.1; done  # (up to 60 s: a loaded host)
  if [ ! -s "$dir/standin.address" ]; then
    cat "$dir/daemon.log"
    wine_result StandinService fail "the fake HCS daemon did not serve the stand-in"
    wine_finish
  fi
  export HCS_STANDIN_ADDRESS="$(cat "$dir/standin.address")" HCS_STANDIN_TOKEN="$(cat "$dir/token")"
}

# wine_standin_host: a Windows host whose HCS is the fake: the stand-in
# daemon (wine_standin_daemon), the prefix made, the stand-in
# computecore.dll in its System32, and stand-in boot files in
# $standin_state/boot (the fake finds them by their Linux path).
wine_standin_host() {
  wine_standin_daemon
  mkdir -p "$standin_state/boot"
  echo stand-in >"$standin_state/boot/kernel"
  echo stand-in >"$standin_state/boot/initrd.img"
  wine_run wineboot >/dev/null 2>&1
  cp -L "${TEST_SRCDIR}/${TEST_WORKSPACE:-hcsshim_cpp}/platforms/windows/standin/computecore.dll" \
    "$WINEPREFIX/drive_c/windows/system32/computecore.dll"
}

# wine_finish: writes the checks as a JUnit report to $XML_OUTPUT_FILE
# (bazel test and the conformance runner read it) and exits with the
# number of failed checks.
wine_finish() {
  if [ -n "${XML_OUTPUT_FILE:-}" ]; then
    local suite=${WINE_SUITE:-wine} xml name outcome message esc
    esc() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g' <<<"$1" | tr -d '\000-\010\013\014\016-\037'; }
    {
      echo '<?xml version="1.0" encoding="UTF-8"?>'
      echo "<testsuites tests=\"${#wine_results[@]}\" failures=\"$fails\">"
      echo "<testsuite name=\"$suite\" tests=\"${#wine_results[@]}\" failures=\"$fails\">"
      for r in "${wine_results[@]}"; do
        IFS=$'\t' read -r name outcome message <<<"$r"
        if [ "$outcome" = ok ]; then
          echo "<testcase name=\"$(esc "$name")\" classname=\"$suite\" status=\"run\" result=\"completed\"/>"
        elif [ "$outcome" = skip ]; then
          echo "<testcase name=\"$(esc "$name")\" classname=\"$suite\" status=\"run\" result=\"skipped\"><skipped message=\"$(esc "$message")\"/></testcase>"
        else
          echo "<testcase name=\"$(esc "$name")\" classname=\"$suite\" status=\"run\" result=\"completed\"><failure message=\"$(esc "$message")\"/></testcase>"
        fi
      done
      echo "</testsuite></testsuites>"
    } >"$XML_OUTPUT_FILE"
  fi
  exit "$fails"
}
