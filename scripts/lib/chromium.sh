# shellcheck shell=bash
# Debian's Chromium for the browser tests (tests/e2e, driven by Playwright; no browser
# is ever downloaded). Sourced by scripts/test, which calls ensure_chromium.
# tests/e2e/conftest.py looks in the same places: CHROMIUM_PATH if set, else
# /usr/bin/chromium, else PATH.

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

# True when pytest, run from the repository root with these arguments, collects the
# browser tier: no path among them (pytest then runs testpaths, tests/), or a path that
# is tests/e2e, lies inside it or contains it. Arguments that are not existing paths
# (options, their values, -k expressions) do not count.
selects_browser_tests() {
  local arg path any_path=false e2e
  e2e="$(cd tests/e2e 2>/dev/null && pwd -P)" || return 1
  for arg in "$@"; do
    [[ "$arg" == -* ]] && continue
    path="${arg%%::*}"
    [[ -e "$path" ]] || continue
    any_path=true
    if [[ -d "$path" ]]; then
      path="$(cd "$path" && pwd -P)"
    else
      path="$(cd "$(dirname "$path")" && pwd -P)/$(basename "$path")"
    fi
    if [[ "$path/" == "$e2e/"* || "$e2e/" == "$path/"* ]]; then return 0; fi
  done
  [[ "$any_path" == false ]]
}

# Makes sure a run that selects the browser tests (arguments: pytest's) finds Chromium:
# installs Debian's package when it is missing (as root or with password-less sudo);
# fails, saying how to install it, when it cannot.
ensure_chromium() {
  selects_browser_tests "$@" || return 0
  chromium_path >/dev/null && return 0
  if [[ -n "${CHROMIUM_PATH:-}" ]]; then
    echo "chromium: expected an executable at CHROMIUM_PATH=$CHROMIUM_PATH, found none" >&2
    return 1
  fi
  if install_chromium && chromium_path >/dev/null; then
    return 0
  fi
  echo "chromium: the browser tests (tests/e2e) need Chromium and it could not be installed." \
    "Install Debian's package with: $CHROMIUM_INSTALL_HINT (or set CHROMIUM_PATH to a" \
    "Chromium or Chrome executable), or run the other tiers only:" \
    "scripts/test tests/unit tests/integration" >&2
  return 1
}
