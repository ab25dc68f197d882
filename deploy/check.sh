#!/usr/bin/env bash
# Checks the monitoring deployment (docs/monitoring.md, "Checking the configuration"):
#   - promtool check config: deploy/prometheus/prometheus.yml (its rule_files resolve too)
#   - promtool check rules:  deploy/prometheus/rules/*.yml
#   - promtool test rules:   deploy/prometheus/tests/*.yml (the alerts fire on the data they should)
#   - amtool check-config:   deploy/alertmanager/alertmanager.yml, when amtool is installed
#   - deploy/validate_dashboards.py: the Grafana dashboards (JSON, ids, data source, PromQL)
# promtool and amtool come from Debian's prometheus and prometheus-alertmanager packages; as root
# on Debian this script installs them when they are missing, as scripts/bootstrap.sh does Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

_want=""
command -v promtool >/dev/null 2>&1 || _want="prometheus"
command -v amtool >/dev/null 2>&1 || _want="$_want prometheus-alertmanager"
if [ -n "$_want" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${_want# } from Debian…"
  { apt-get update -qq >/dev/null \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $_want >/dev/null 2>&1; } \
    || echo "deploy/check.sh: could not install $_want" >&2
fi
if ! command -v promtool >/dev/null 2>&1; then
  echo "deploy/check.sh: promtool is missing (Debian: apt-get install prometheus)." >&2
  exit 1
fi

PY=.venv/bin/python
[ -x "$PY" ] || PY=python3

echo "== promtool check config"
promtool check config deploy/prometheus/prometheus.yml
echo "== promtool check rules"
promtool check rules deploy/prometheus/rules/*.yml
echo "== promtool test rules"
promtool test rules deploy/prometheus/tests/*.yml
if command -v amtool >/dev/null 2>&1; then
  echo "== amtool check-config"
  amtool check-config deploy/alertmanager/alertmanager.yml
else
  echo "== amtool not installed: alertmanager.yml not checked"
fi
echo "== Grafana dashboards"
"$PY" deploy/validate_dashboards.py
