# shellcheck shell=bash
# Debian's Chromium for the browser tests (tests/e2e, driven by Playwright; no browser
# is ever downloaded). Sourced by scripts/test and .ci/run. tests/e2e/conftest.py
# looks in the same places: CHROMIUM_PATH if set, else /usr/bin/chromium, else PATH.

CHROMIUM_INSTALL_HINT="sudo apt-get update && sudo apt-get install -y chromium"

# Prints the Chromium executable; fails when there is none.
chromium_path() {
  local candidate
  if [[ -n "${CHROMIUM_PATH:-}" ]]; then
    [[ -x "$CHROMIUM_PATH" ]] && echo "$CHROMIUM_PATH"
    return
  fi
  for candidate in /usr/bin/chromium "$(command -v chromium 2>/dev/null)"; do
    if [[ -n "$candidate" && -x "$candidate" ]]; then echo "$candidate"; return 0; fi
  done
  return 1
}

# Installs Debian's chromium package (as root, or with password-less sudo).
install_chromium() {
  local sudo=() log="${TMPDIR:-/tmp}/apt-chromium.log"
  if [[ "$(id -u)" != 0 ]]; then
    sudo -n true 2>/dev/null || { echo "chromium: not root and no password-less sudo; run: $CHROMIUM_INSTALL_HINT" >&2; return 1; }
    sudo=(sudo -n)
  fi
  echo "chromium: installing Debian's chromium package (log: $log)" >&2
  if ! { "${sudo[@]}" apt-get update && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends chromium; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "chromium: the install failed (full log: $log)" >&2
    return 1
  fi
}
