#!/usr/bin/env bash
# The class-imbalance study: the same network (baseline_cnn) and budget (3 epochs) with each
# remedy, then PublicTest and PrivateTest figures (disgust recall) for docs/model-zoo.md.
#   bash training/configs/imbalance_study.sh [RUNS_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-$HOME/.cache/ferdesk/runs}
python=${PYTHON:-.venv/bin/python}
for method in none class_weight oversample smote augment; do
  run="$runs/imbalance-$method"
  "$python" -m training train --config "training/configs/imbalance_$method.json" --run "$run"
  for split in PublicTest PrivateTest; do
    "$python" -m training evaluate "$run/best.keras" --split "$split" > /dev/null
  done
  "$python" - "$run" <<'PY'
import json, sys
run = sys.argv[1]
m = json.load(open(f"{run}/eval-best-PrivateTest/metrics.json"))["metrics"]
p = json.load(open(f"{run}/eval-best-PublicTest/metrics.json"))["metrics"]
print(f"{run}: PublicTest {p['accuracy']:.4f} (disgust recall {p['per_class']['disgust']['recall']:.3f}); "
      f"PrivateTest {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}, disgust recall {m['per_class']['disgust']['recall']:.3f}")
PY
done
