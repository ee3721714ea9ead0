#!/usr/bin/env bash
# The guest image's initrd is the same bytes when built again from the same
# inputs somewhere else: other copies of the binaries (other paths, other
# mtimes), another working directory, umask, time zone and locale.
set -euo pipefail
r="$TEST_SRCDIR/hcsshim_cpp"
k="$TEST_SRCDIR/guest_kernel"
built="$r/tools/guest_image/initrd.img"
w="$TEST_TMPDIR/again"
rm -rf "$w" && mkdir -p "$w/bin"
for b in gcs/init/init gcs/init/vsockexec gcs/gcs_static; do
  cp "$r/$b" "$w/bin/$(basename $b)"
  touch -d "2001-02-03 04:05:06" "$w/bin/$(basename $b)"
done
userland=()
while IFS= read -r -d '' f; do userland+=("$f"); done < <(find -L "$TEST_SRCDIR/guest_userland/root" -type f -print0 | sort -z)
(cd "$w" && umask 077 && TZ=Pacific/Kiritimati LC_ALL=C "$r/tools/guest_image/build_initrd.sh" "$w/initrd.img" \
  "$r/tools/guest_image/mkinitrd" bin/init bin/vsockexec bin/gcs_static "$k/version.txt" \
  "$(cat "$r/tools/guest_image/modules.txt")" "$(cat "$r/tools/guest_image/boot_modules.txt")" "${userland[@]}")
if cmp "$built" "$w/initrd.img"; then
  echo "same bytes: $(stat -c %s "$built") bytes"
else
  echo "initrd.img differs when built again from the same inputs" >&2
  exit 1
fi
