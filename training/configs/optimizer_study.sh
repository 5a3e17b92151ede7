#!/usr/bin/env bash
# The optimizer study (issue 12): the class-imbalance study's baseline recipe (imbalance_none.json:
# baseline_cnn, 3 epochs, cosine, no remedy, seed 1234) with each optimizer the studies compared,
# at the learning rate each is usually run at from scratch. AdamW at 1e-3 is that baseline itself,
# so its row is the imbalance study's `imbalance-none` run (trained here too when it is missing).
# The runs are named optim-NAME; `python -m training report --measure` lists them side by side.
#   bash training/configs/optimizer_study.sh [RUNS_DIR]
# Environment: DATA (a FER2013 folder other than ../shared/data), PYTHON (.venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/../.."
source training/configs/study_env.sh
# name optimizer learning-rate
while read -r name optimizer rate; do
  "$python" -m training train --config training/configs/imbalance_none.json --run "$runs/optim-$name" \
    --optimizer "$optimizer" --learning-rate "$rate" "${data[@]}"
done <<'RUNS'
adamw adamw 0.001
sgd sgd 0.01
adam adam 0.001
rmsprop rmsprop 0.001
RUNS
