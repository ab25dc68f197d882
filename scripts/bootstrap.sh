# Installs what LinkHub needs, once: a Python 3.11 virtualenv in .venv with the pinned
# requirements, and a Chromium for Playwright (the system one when there is one).
# Sourced by run.sh and test.sh:  source scripts/bootstrap.sh runtime|dev
set -euo pipefail
_mode="${1:-runtime}"
_req=requirements.txt
[ "$_mode" = dev ] && _req=requirements-dev.txt

_find_python() {
  for cand in "${PYTHON:-}" python3.11 python3; do
    [ -n "$cand" ] || continue
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$cand"; return 0
    fi
  done
  echo "LinkHub needs Python 3.11 (set PYTHON=/path/to/python3.11)." >&2
  return 1
}

if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $(_find_python)…"
  "$(_find_python)" -m venv .venv
fi
_want=$(cat requirements.txt "$_req" | sha256sum | cut -c1-16)
_stamp=".venv/.installed-$_mode"
if [ ! -f "$_stamp" ] || [ "$(cat "$_stamp")" != "$_want" ]; then
  echo "Installing Python packages from $_req…"
  # This machine's pip config names a local mirror that may be absent; drop that one warning.
  { .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 \
    && .venv/bin/python -m pip install -q --disable-pip-version-check -r "$_req" 2>&1; } \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
  echo "$_want" > "$_stamp"
fi

# Chromium: the system package when there is one; otherwise install it (Debian, as root),
# and elsewhere fall back to Playwright's own download.
_browser_ok() { [ -n "${CHROMIUM_PATH:-}" ] && [ -x "$CHROMIUM_PATH" ]; }
# chromium-headless-shell first: the same engine without the desktop browser's services, faster.
_pick_browser() {
  for cand in "${CHROMIUM_PATH:-}" /usr/bin/chromium-headless-shell /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
    if [ -n "$cand" ] && [ -x "$cand" ]; then export CHROMIUM_PATH="$cand"; return 0; fi
  done
  return 1
}
_pick_browser || true
# The renderer uses the headless shell; the browser tests (dev) drive the full Chromium.
_want_pkgs=""
[ -x /usr/bin/chromium-headless-shell ] || _want_pkgs="chromium-headless-shell"
[ "$_mode" = dev ] && [ ! -x /usr/bin/chromium ] && _want_pkgs="$_want_pkgs chromium"
if [ -n "$_want_pkgs" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing $_want_pkgs from Debian…"
  { apt-get update -qq >/dev/null \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $_want_pkgs >/dev/null 2>&1; } \
    || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || true
  case "${CHROMIUM_PATH:-}" in /usr/bin/chromium|"") unset CHROMIUM_PATH ;; esac
  _pick_browser || true
fi
if ! _browser_ok; then
  unset CHROMIUM_PATH
  if [ ! -f .venv/.playwright-chromium ]; then
    echo "Installing Playwright's Chromium…"
    .venv/bin/python -m playwright install chromium && touch .venv/.playwright-chromium
  fi
fi
