#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine is missing to build, run and test nearft:
# the Debian packages below (chromium: the status page test) and the pinned npm packages of the
# conformance suite.
# Idempotent: packages already present are not reinstalled.
set -euo pipefail
cd "$(dirname "$0")/.."

# prometheus: only for promtool (the metrics lint and alert-rule tests); they never start its server.
# libsystemd-dev: sd_notify for systemd Type=notify; systemd: systemd-analyze for the unit test
# (deploy_unit; nothing is started). nginx and openssl: the TLS-proxy test
# (deploy_nginx) runs its own nginx in the foreground; it does not use the system service that
# installing the package may start.
# nats-server, libnats-dev: cluster mode (--cluster; compiled in when CMake finds libnats) and its
# integration test, which starts three nats-server processes on 127.0.0.1.
PKGS=(build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
      libevent-dev libsodium-dev libcurl4-openssl-dev libck-dev libmsgpack-dev libjansson-dev
      libsystemd-dev systemd nginx openssl nats-server libnats-dev
      git wrk gnuplot-nox curl chromium prometheus)
# Node.js may come from elsewhere than Debian (e.g. a newer build already on the machine): only
# ask apt for it when the commands are missing.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# near-api-js 7.2.0 (pinned in package-lock.json) for the conformance and simulator tests.
if [ -f tests/conformance/package-lock.json ]; then
  (cd tests/conformance && npm ci --no-audit --no-fund --loglevel=error)
  # @nats-io/jwt and @nats-io/nkeys (pinned): cluster_creds makes NATS operator, account and user JWTs.
  (cd tests/integration/natsjwt && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "install-deps: ok"
