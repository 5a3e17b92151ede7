#!/usr/bin/env bash
# Install everything the tests need (system packages, .venv with the test extra) and run them:
# lint (ruff), then the whole pytest suite, headless.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade "pip>=24" >/dev/null
.venv/bin/python -m pip install --quiet -e ".[dev]"
export QT_QPA_PLATFORM=offscreen
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# Checked rules: the layer contracts ([tool.importlinter]) and typed seams outside ferdesk/ui ([tool.mypy]).
.venv/bin/lint-imports
.venv/bin/mypy
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
