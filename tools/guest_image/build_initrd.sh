#!/usr/bin/env bash
# build_initrd.sh: the guest image's initrd.img from its inputs (the
# :initrd genrule runs it; initrd_reproducible_test runs it again elsewhere
# and compares the bytes).
#
#   build_initrd.sh OUT MKINITRD INIT VSOCKEXEC GCS VERSION_FILE "MODULES" "BOOT_MODULES" USERLAND_FILE...
#
# The kernel's modules tree is modules/ next to VERSION_FILE (@guest_kernel);
# a userland file .../guest_userland/root/<path> goes to /<path>.
set -euo pipefail
out=$1 mkinitrd=$2 init=$3 vsockexec=$4 gcs=$5 version_file=$6 modules=$7 boot_modules=$8
shift 8
v=$(cat "$version_file")
mods=$(dirname "$version_file")/modules
args=()
for f in "$@"; do args+=(--file "${f#*/guest_userland/root}=$f"); done
for m in $modules; do args+=(--module "$m"); done
for m in $boot_modules; do args+=(--boot-module "$m"); done
exec "$mkinitrd" --out "$out" \
  --file /init="$init" \
  --file /bin/vsockexec="$vsockexec" \
  --file /bin/gcs="$gcs" \
  --symlink /bin/sh=busybox \
  --dir /proc --dir /sys --dir /dev --dir /run --dir /tmp --dir /etc --dir /var --dir /mnt \
  --chardev /dev/console=5:1 --chardev /dev/null=1:3 \
  --modules-dir "$mods" --modules-dest "/lib/modules/$v" \
  "${args[@]}"
