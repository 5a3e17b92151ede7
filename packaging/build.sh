#!/usr/bin/env bash
# Build the one-folder desktop bundle with PyInstaller (see packaging/README.md):
#   bash packaging/build.sh [DIST_DIR]      → DIST_DIR/ferdesk/ferdesk (default DIST_DIR: dist)
# Uses $PYTHON (default .venv/bin/python), which must have ferdesk's dependencies installed; installs
# the `bundle` extra's PyInstaller pin from pyproject.toml if it is missing. Prints the bundle's size.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"
dist="$(mkdir -p "${1:-$repo/dist}" && cd "${1:-$repo/dist}" && pwd)"
work="${FERDESK_BUNDLE_WORK:-$repo/build/pyinstaller}"
if ! "$python" -c "import PyInstaller" 2>/dev/null; then
  # One source of truth for the pin: the `bundle` extra.
  mapfile -t pins < <("$python" -c 'import tomllib, sys
for pin in tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]["bundle"]:
    print(pin)' "$repo/pyproject.toml")
  "$python" -m pip install --quiet "${pins[@]}"
fi
start=$(date +%s)
"$python" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$dist" --workpath "$work" "$repo/packaging/ferdesk.spec"
# Links PyInstaller made to libraries the spec pruned (see prune_unneeded there) would dangle.
find "$dist/ferdesk" -xtype l -delete
echo "Built $dist/ferdesk/ferdesk in $(( $(date +%s) - start )) s, $(du -sm "$dist/ferdesk" | cut -f1) MB"
