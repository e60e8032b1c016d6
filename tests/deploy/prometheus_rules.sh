#!/usr/bin/env bash
# prometheus_rules: `promtool check rules` on deploy/prometheus/alerts.yml (syntax, PromQL, no
# duplicate rules) and `promtool test rules` on deploy/prometheus/alerts_test.yml (each alert fires
# when it should, with its labels and annotations, and not before). Exits 77 (ctest's skip code)
# when promtool (Debian package prometheus) is not installed.
# Usage: prometheus_rules.sh REPO_ROOT
set -euo pipefail
root=${1:?usage: prometheus_rules.sh REPO_ROOT}
promtool=${PROMTOOL:-promtool}
if ! command -v "$promtool" >/dev/null 2>&1; then
  echo "prometheus_rules: SKIP: promtool not found (Debian package prometheus;" \
       "scripts/install-deps.sh installs it)"
  exit 77
fi
cd "$root/deploy/prometheus"
"$promtool" check rules alerts.yml
"$promtool" test rules alerts_test.yml
echo "prometheus_rules: 2 passed, 0 failed"
