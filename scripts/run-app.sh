#!/usr/bin/env bash
# Install ferdesk (system packages, a virtual environment in .venv) and start the app.
# Arguments are passed to `ferdesk`, e.g. `bash scripts/run-app.sh --source demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade "pip>=24" >/dev/null
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/ferdesk "$@"
