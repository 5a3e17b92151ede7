#!/usr/bin/env bash
# Build a one-folder desktop bundle with PyInstaller (see packaging/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pip install --quiet "pyinstaller>=6.10,<7"
.venv/bin/pyinstaller --noconfirm --clean packaging/ferdesk.spec
echo "Built dist/ferdesk/ferdesk"
