#!/usr/bin/env bash
# The architecture study (issue 12): every architecture of the studies gets the same CPU budget,
# so the table answers "what does a CPU-hour buy with this network" rather than "what does it reach
# after an unknown amount of compute". For each config the script first measures the network's bare
# training speed on this machine (faces/s, training/throughput.py), then sizes the run to fit the
# budget with a complete schedule: EPOCHS epochs (warm-up, then cosine to zero) over as many
# Training faces as that speed allows (all of them when it allows more), validating on the same
# VAL_FACES PublicTest faces, with no weight averaging (in a few hundred steps an average still
# remembers the untrained start). The runs are named arch-CONFIG; `python -m training report --measure`
# then measures them on the whole of PublicTest and PrivateTest and lists them side by side.
#   bash training/configs/architecture_study.sh [RUNS_DIR] [MINUTES_EACH]
# Environment: CONFIGS (the config names to run), EPOCHS (3), VAL_FACES (1200), DATA (a FER2013
# folder other than the configs' ../shared/data), PYTHON (.venv/bin/python).
# A killed study resumes: a finished run is skipped, an interrupted one continues from its last epoch.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-$HOME/.cache/ferdesk/runs}
minutes=${2:-12}
python=${PYTHON:-.venv/bin/python}
epochs=${EPOCHS:-3}
val_faces=${VAL_FACES:-1200}
configs=${CONFIGS:-"vgg_compact_ema deepfer_cnn resnet18_fer resnet18_fer_s2 mobilenet_v2_fer efficientnet_lite0_fer mobilenet_v3_small_96 resnet50_transfer"}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
for name in $configs; do
  config="training/configs/$name.json"
  run="$runs/arch-$name"
  if [ -f "$run/state.json" ] && "$python" -c "import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s.get('finished') else 1)" "$run/state.json"; then
    echo "$run: finished, skipped"
    continue
  fi
  faces=$("$python" - "$config" "$minutes" "$epochs" "$val_faces" <<'PY'
import json, sys
from training.throughput import bare_faces_per_second
config, minutes, epochs, val_faces = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
recipe = json.load(open(config))
speed = bare_faces_per_second(recipe["model"], faces=256, batch_size=int(recipe.get("batch_size", 64)))
# Per epoch: the training faces at ~0.85x the bare speed (augmentation, callbacks) and the
# validation faces at ~3x it (a forward pass only).
faces = 0.85 * (minutes * 60 * speed / epochs - val_faces / 3)
print(max(256, int(faces)), f"{speed:.1f}")
PY
)
  set -- $faces
  echo "$name: bare ${2} faces/s here -> $epochs epochs of up to $1 Training faces in about $minutes min"
  extra=()
  if [ -n "${DATA:-}" ]; then
    extra+=(--data "$DATA")
  fi
  if [ "$name" = resnet50_transfer ]; then
    # No ImageNet or VGGFace weights can be downloaded here: the architecture from scratch, no frozen epochs.
    extra+=(--init-weights "" --freeze-epochs 0)
  fi
  "$python" -m training train --config "$config" --run "$run" --epochs "$epochs" --limit-train "$1" \
    --limit-val "$val_faces" --early-stopping-patience "$epochs" --ema-momentum 0 --time-budget-minutes "$((2 * minutes))" "${extra[@]}"
done
