#!/usr/bin/env bash
# package: builds the Debian package of this build tree with `cpack -G DEB` into a temp dir,
# checks its name (nearft_<version>_<arch>.deb), control fields and file list, unpacks it into a
# temp root (dpkg -x) and runs the unpacked programs: nearftd --help, nearft --help, and that
# nearftd(8) lists every flag of that nearftd --help. Exit 77 (skipped) when dpkg-deb or cpack is
# missing. Usage: package.sh BUILD_DIR VERSION PREFIX DOCDIR MANDIR
set -u
build=$1 version=$2 prefix=$3 docdir=$4 mandir=$5
for t in dpkg-deb cpack; do
  if ! command -v $t >/dev/null 2>&1; then
    echo "SKIP: $t not found (Debian packages dpkg and cmake); the package was not built"
    exit 77
  fi
done
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
dir=$(mktemp -d "${TMPDIR:-/tmp}/nf-pkg-XXXXXX")
fail=0
finish() {
  if [ $fail -eq 0 ]; then rm -rf "$dir"; else echo "kept $dir for inspection"; fi
}
trap finish EXIT
bad() { echo "FAIL: $*"; fail=1; }

if ! (cd "$build" && cpack -G DEB -B "$dir/out" >"$dir/cpack.log" 2>&1); then
  echo "FAIL: cpack -G DEB:"; tail -20 "$dir/cpack.log"; fail=1; exit 1
fi
deb=$dir/out/nearft_${version}_${arch}.deb
[ -f "$deb" ] || { bad "no $(basename "$deb") in $(ls "$dir/out")"; exit 1; }
echo "ok: built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

info=$(dpkg-deb -I "$deb")
for f in "Package: nearft" "Version: $version" "Architecture: $arch" "Maintainer: " \
         "Description: "; do
  grep -q "^ *$f" <<<"$info" || bad "control lacks '$f'"
done
deps=$(sed -n 's/^ *Depends: //p' <<<"$info")
for d in adduser libsodium libcurl libevent libsystemd libjansson; do
  grep -q "$d" <<<"$deps" || bad "Depends lacks $d: $deps"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -t | grep -q '^./postinst$' || bad "no postinst (creates the nearft account)"
echo "ok: control: Depends: $deps"

p=${prefix#/}
list=$(dpkg-deb -c "$deb" | awk '{print $NF}')
for f in "$p/bin/nearftd" "$p/bin/nearft" "$p/bin/nearsim" "$p/lib/systemd/system/nearftd.service" \
         "$p/lib/systemd/system/nearftd.socket" \
         "$p/$mandir/man8/nearftd.8" "$p/$mandir/man1/nearft.1" "$p/$mandir/man1/nearsim.1" \
         "$p/$docdir/nearftd.conf.example" "$p/$docdir/DEPLOY.md" \
         "$p/$docdir/examples/nginx/nearftd.conf"; do
  grep -qx "\./$f" <<<"$list" || bad "package lacks /$f"
done
echo "ok: contents: $(grep -c -v '/$' <<<"$list") files"

root=$dir/root
dpkg -x "$deb" "$root" || { bad "dpkg -x"; exit 1; }
out=$("$root/$p/bin/nearftd" --help 2>&1) || bad "installed nearftd --help exited $?"
grep -q '^usage: nearftd' <<<"$out" || bad "installed nearftd --help: $out"
"$root/$p/bin/nearft" --help >/dev/null 2>&1 || bad "installed nearft --help exited non-zero"
echo "ok: the unpacked nearftd --help and nearft --help run"

unit=$root/$p/lib/systemd/system/nearftd.service
grep -q "^ExecStart=$prefix/bin/nearftd --config " "$unit" ||
  bad "unit ExecStart does not name $prefix/bin/nearftd: $(grep ^ExecStart "$unit")"

# The man page cannot drift: every flag --help lists is in nearftd(8).
man8=$root/$p/$mandir/man8/nearftd.8
missing=0
for flag in $(grep -o '^  --[a-z0-9-]*' <<<"$out"); do
  esc=$(sed 's/-/\\\\-/g' <<<"$flag")
  grep -q "fB$esc\\\\fR" "$man8" || { bad "nearftd(8) lacks $flag"; missing=$((missing + 1)); }
done
[ $missing -eq 0 ] && echo "ok: nearftd(8) lists all $(grep -c '^  --' <<<"$out") flags of --help"
if command -v groff >/dev/null 2>&1; then
  # -k: preconv first, as man(1) does, for the UTF-8 in the help texts.
  gw=0
  for m in "$man8" "$root/$p/$mandir/man1/nearft.1" "$root/$p/$mandir/man1/nearsim.1"; do
    warn=$(groff -k -man -Tutf8 -ww -z "$m" 2>&1)
    [ -z "$warn" ] || { bad "groff warns on $(basename "$m"): $warn"; gw=1; }
  done
  [ $gw -eq 0 ] && echo "ok: groff renders the three man pages without warnings"
fi
exit $fail
