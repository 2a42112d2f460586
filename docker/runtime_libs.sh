#!/bin/sh
# Collects the shared libraries the given binaries load (their ldd closure) that the runtime
# base image lacks, into one folder, for the slim runtime stage of docker/Dockerfile.cpu:
#
#   runtime_libs.sh BASE_DPKG_STATUS DEST BINARY...
#
# A library is left out when the Debian package owning it is installed in the runtime base
# (BASE_DPKG_STATUS is that image's /var/lib/dpkg/status); every other one is copied, links
# followed, under the name the loader looks for (libblas.so.3 is OpenBLAS's, the alternative
# Debian selects). DEST/PACKAGES.txt lists what was copied: package, file, bytes. Fails when ldd
# cannot resolve a library.
set -eu
status=$1
dest=$2
shift 2
mkdir -p "$dest"
if ldd "$@" | grep -q 'not found'; then
  ldd "$@" | grep 'not found' >&2
  echo "runtime_libs.sh: unresolved libraries (above)" >&2
  exit 1
fi
base=$(awk '/^Package:/ { p = $2 } /^Status: .* installed$/ { print p }' "$status")
: >"$dest/PACKAGES.txt"
ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | sort -u >"$dest/.closure"
# Owners in one dpkg call: each library as ldd found it, its link target, and both of their
# /usr-merged spellings (dpkg knows a file by the path its package ships it at).
while read -r name path; do
  real=$(readlink -f "$path")
  printf '%s\n%s\n%s\n%s\n' "$real" "/usr$real" "${real#/usr}" "$path"
done <"$dest/.closure" | sort -u | xargs dpkg -S 2>/dev/null | sed 's/:[a-z0-9]*: /: /' >"$dest/.owners" || true
while read -r name path; do
  real=$(readlink -f "$path")
  pkg=$(awk -F': ' -v a="$real" -v b="/usr$real" -v c="${real#/usr}" \
          '$2 == a || $2 == b || $2 == c { print $1; exit }' "$dest/.owners")
  if [ -n "$pkg" ] && printf '%s\n' "$base" | grep -qx "$pkg"; then continue; fi
  cp -L "$path" "$dest/$name"
  printf '%s %s %s\n' "${pkg:-unknown}" "$name" "$(stat -c %s "$real")" >>"$dest/PACKAGES.txt"
done <"$dest/.closure"
rm -f "$dest/.closure" "$dest/.owners"
sort -o "$dest/PACKAGES.txt" "$dest/PACKAGES.txt"
echo "runtime_libs.sh: $(wc -l <"$dest/PACKAGES.txt") libraries, $(du -sh "$dest" | cut -f1)"
