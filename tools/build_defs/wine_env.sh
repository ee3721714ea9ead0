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
wine_run() { "$WINE" "$@"; }
