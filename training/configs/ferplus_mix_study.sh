#!/usr/bin/env bash
# Do FER+ votes help on FER2013's own labels? (issue 13). The same network, recipe, seed and 12
# epochs (ferplus_mix_vgg_compact_s2.json) twice: FER2013's one-hot labels alone
# (ferplusmix-w0), and half of each Training face's target FER+'s vote distribution for the same
# image (ferplusmix-w0.5, faces paired by their pixels: training/ferplus_votes.py). Both select on
# FER2013 PublicTest; `python -m training report --measure` puts them side by side.
#   bash training/configs/ferplus_mix_study.sh [RUNS_DIR]
# Environment: DATA (a data folder holding fer2013/ and ferplus/ other than ../shared/data),
# PYTHON (.venv/bin/python), WEIGHTS (default "0 0.5").
set -euo pipefail
cd "$(dirname "$0")/../.."
source training/configs/study_env.sh
for weight in ${WEIGHTS:-0 0.5}; do
  "$python" -m training train --config training/configs/ferplus_mix_vgg_compact_s2.json \
    --run "$runs/ferplusmix-w$weight" --ferplus-weight "$weight" "${data[@]}"
done
