#!/usr/bin/env bash
# verify_unit: deploy/systemd/nearftd.service (and nearftd.socket beside it, with the service it
# starts) passes `systemd-analyze verify` with no warning
# (unknown keys, unknown system call groups and a missing ExecStart binary all print one) and
# keeps its hardening: `systemd-analyze security --offline` must rate its exposure 2.0 or lower.
# systemd-analyze wants the ExecStart binary to exist, so a copy of the unit is checked with
# ExecStart pointed at the nearftd just built. Exit 77 (skipped) when systemd-analyze is missing.
# Usage: verify_unit.sh UNIT NEARFTD
set -u
unit=$1 nearftd=$2
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIP: systemd-analyze not found (Debian package systemd); the unit file was not checked"
  exit 77
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/nf-unit-XXXXXX")
trap 'rm -rf "$dir"' EXIT
copy=$dir/nearftd.service
grep -q '^ExecStart=/usr/bin/nearftd ' "$unit" || { echo "FAIL: ExecStart is not /usr/bin/nearftd ..."; exit 1; }
sed "s#^ExecStart=/usr/bin/nearftd #ExecStart=$nearftd #" "$unit" >"$copy"
fail=0
# verify FILE: systemd-analyze verify has nothing to say about FILE (a unit in $dir).
verify() {
  local out rc
  out=$(cd "$dir" && systemd-analyze verify --man=no "$1" 2>&1)
  rc=$?
  if [ $rc -ne 0 ] || [ -n "$out" ]; then
    echo "FAIL: systemd-analyze verify $(basename "$1") exit $rc:"; echo "$out"; fail=1
  else
    echo "ok: systemd-analyze verify has nothing to say about $(basename "$1")"
  fi
}
verify "$copy"
for want in 'Type=notify' 'WatchdogSec=' 'NoNewPrivileges=yes' 'ProtectSystem=strict' \
            'PrivateTmp=yes' 'CapabilityBoundingSet=$' 'SystemCallFilter=@system-service' \
            'StateDirectory=nearft' 'User=nearft' 'Restart=on-failure'; do
  grep -q "^$want" "$unit" || { echo "FAIL: the unit lacks $want"; fail=1; }
done
# The socket unit beside it (socket activation), checked together with the service it starts.
sock=$(dirname "$unit")/nearftd.socket
cp "$sock" "$dir/nearftd.socket"
verify "$dir/nearftd.socket"
grep -q '^ListenStream=' "$sock" || { echo "FAIL: the socket unit lacks ListenStream="; fail=1; }
if systemd-analyze security --help 2>&1 | grep -q -- '--offline'; then
  out=$(cd "$dir" && systemd-analyze security --offline=yes --threshold=20 "$copy" 2>&1)
  rc=$?
  level=$(printf '%s\n' "$out" | grep -o 'Overall exposure level for [^:]*: [0-9.]*' | grep -o '[0-9.]*$')
  if [ $rc -ne 0 ]; then
    echo "FAIL: systemd-analyze security: exposure ${level:-?} is above 2.0"; printf '%s\n' "$out" | grep -v '^✓' ; fail=1
  else
    echo "ok: systemd-analyze security exposure $level (at most 2.0)"
  fi
else
  echo "note: this systemd-analyze has no security --offline; exposure not rated"
fi
exit $fail
