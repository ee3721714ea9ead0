# wine_env.sh: sourced by wine_test scripts - a private Wine prefix and the
# loader, quiet. wine_run EXE ARGS... runs a Windows binary and keeps its
# exit code.
WINE=${WINE:-/usr/lib/wine/wine64}
if [ ! -x "$WINE" ]; then
  echo "wine_env: $WINE not found (Debian's wine64 package; tools/setup installs it)" >&2
  exit 1
fi
export WINEPREFIX="${TEST_TMPDIR:-/tmp}/wineprefix"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="  # no Mono/Gecko installers when the prefix is made
# (Bazel's test variables name Linux paths a Windows gtest cannot open.)
wine_run() {
  env -u XML_OUTPUT_FILE -u GTEST_OUTPUT -u TEST_PREMATURE_EXIT_FILE -u TEST_UNDECLARED_OUTPUTS_DIR \
    -u TEST_WARNINGS_OUTPUT_FILE -u GTEST_SHARD_STATUS_FILE "$WINE" "$@"
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
