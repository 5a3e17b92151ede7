# Sourced by the study scripts (not run on its own): the settings they share.
#   runs    the folder of run folders: the script's first argument, or ~/.cache/ferdesk/runs
#   python  PYTHON, or the checkout's .venv/bin/python
#   data    (--data DATA) when DATA names a data folder other than ../shared/data, else empty
# Also quiets TensorFlow's C++ start-up lines (TF_CPP_MIN_LOG_LEVEL, 2 unless set).
runs=${1:-$HOME/.cache/ferdesk/runs}
python=${PYTHON:-.venv/bin/python}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
data=()
if [ -n "${DATA:-}" ]; then
  data=(--data "$DATA")
fi
