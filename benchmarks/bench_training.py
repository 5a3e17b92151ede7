"""Training throughput: bare forward+backward faces/s of a network under every installed Keras
backend, and the real ``python -m training train`` loop's (augmentation on) under the backend the
default recipe uses — the figures that decide how much a CPU-hour trains.

    python benchmarks/bench_training.py [--network vgg_compact] [--faces 384] [--batch-size 64]
                                        [--precision float32|mixed_bfloat16]

Each backend runs in its own subprocess (Keras picks its backend once, at import). The loop runs
``training.train.train`` for one epoch on ``--faces`` real FER2013 Training faces when
``../shared/data`` is there (else on a synthetic set in the Kaggle layout, said so in the output).
Prints a table and ends with one JSON line:
``{"train_faces_per_s", "bare_faces_per_s", "backend", "backends": {name: faces/s}, "network", ...}``.
``--precision mixed_bfloat16`` measures both under Keras's bfloat16 policy (training/precision.py);
run it beside a float32 run of the same settings to see what it buys on this CPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import finish, machine, reference_workload_ms  # noqa: E402

BACKENDS = ("tensorflow", "jax", "torch")
MARKER = "BENCH_RESULT "


def installed_backends() -> list[str]:
    return [name for name in BACKENDS if importlib.util.find_spec(name) is not None]


def worker(args: argparse.Namespace) -> None:
    """Runs inside the subprocess whose KERAS_BACKEND was set by the parent."""
    import keras

    from training.throughput import FacesPerSecond, bare_faces_per_second

    if args.worker == "bare":
        from training.precision import dtype_policy

        with dtype_policy(args.precision):
            rate = bare_faces_per_second(args.network, args.faces, args.batch_size)
        print(MARKER + json.dumps({"backend": keras.backend.backend(), "faces_per_s": rate}))
        return
    from training.train import TrainConfig, train

    data = Path(args.data)
    synthetic = not (data / "fer2013").is_dir() and not (data / "train").is_dir()
    with tempfile.TemporaryDirectory() as scratch:
        if synthetic:
            from training.synthetic import write_tiny_fer2013

            os.environ["FERDESK_CACHE"] = str(Path(scratch) / "cache")
            per_class = max(2, args.faces // 7 + 1)
            data = write_tiny_fer2013(Path(scratch) / "fer2013", train_per_class=per_class)
        config = TrainConfig(
            model=args.network,
            data=str(data),
            epochs=1,
            batch_size=args.batch_size,
            warmup_epochs=0,
            limit_train=args.faces + args.batch_size,
            limit_val=args.batch_size,
            clean=not synthetic,
            precision=args.precision,
        )
        timer = FacesPerSecond(args.batch_size)
        train(config, Path(scratch) / "run", verbose=0, extra_callbacks=[timer])
    print(
        MARKER
        + json.dumps(
            {"backend": keras.backend.backend(), "faces_per_s": timer.faces_per_s, "synthetic": synthetic}
        )
    )


def run_worker(kind: str, backend: str, args: argparse.Namespace) -> dict | None:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, __file__, "--worker", kind, "--network", args.network]
    command += ["--faces", str(args.faces), "--batch-size", str(args.batch_size), "--data", str(args.data)]
    command += ["--precision", args.precision]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT, check=False)
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    print(f"  {kind} under {backend} failed (exit {done.returncode}): {' | '.join(tail)}", file=sys.stderr)
    return None


def main() -> None:
    from training.data import DEFAULT_DATA_ROOT
    from training.precision import PRECISIONS
    from training.train import DEFAULT_BACKEND

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--network", default="vgg_compact", help="a training.models name (default: %(default)s)"
    )
    parser.add_argument(
        "--faces", type=int, default=384, help="timed faces per measurement (default: %(default)s)"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--backends", default=",".join(installed_backends()), help="comma-separated")
    parser.add_argument(
        "--precision",
        default="float32",
        choices=PRECISIONS,
        help="Keras dtype policy for every measurement (default: %(default)s)",
    )
    parser.add_argument("--worker", choices=("bare", "loop"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    from tqdm import tqdm

    from training.models import list_models

    if args.network not in list_models():
        from training.models import create_model

        create_model(args.network)  # raises with the closest known names
    backends = [b for b in args.backends.split(",") if b]
    missing = sorted(set(backends) - set(installed_backends()))
    if missing:
        raise SystemExit(f"error: backend(s) {missing} not installed; installed: {installed_backends()}.")
    figures: dict[str, object] = {"machine": machine(), "reference_workload_ms": reference_workload_ms()}
    rates: dict[str, float] = {}
    jobs = [("bare", b) for b in backends] + [("loop", DEFAULT_BACKEND)]
    loop: dict | None = None
    for kind, backend in tqdm(jobs, desc="measuring", unit="run"):
        result = run_worker(kind, backend, args)
        if result is None:
            continue
        if kind == "bare":
            rates[backend] = round(result["faces_per_s"], 1)
        else:
            loop = result
    print(
        f"network {args.network}, batch {args.batch_size}, {args.faces} timed faces per run, "
        f"precision {args.precision}"
    )
    for backend, rate in sorted(rates.items(), key=lambda kv: -kv[1]):
        print(f"  bare fit, {backend:<10} {rate:8.1f} faces/s")
    train_rate = round(loop["faces_per_s"], 1) if loop else None
    bare_rate = rates.get(DEFAULT_BACKEND)
    if loop:
        data_note = "synthetic faces" if loop.get("synthetic") else "FER2013 Training faces"
        ratio = f", {train_rate / bare_rate:.2f}x its bare loop" if bare_rate else ""
        print(
            f"  train loop, {DEFAULT_BACKEND} (augmentation on, {data_note}) {train_rate:8.1f} faces/s{ratio}"
        )
    fastest = max(rates, key=rates.get) if rates else None
    print(f"default recipe backend {DEFAULT_BACKEND}; fastest measured: {fastest}")
    print(
        f"reference workload (machine baseline) {figures['reference_workload_ms']:.3f} ms; machine: {figures['machine']}"
    )
    figures.update(
        train_faces_per_s=train_rate,
        bare_faces_per_s=bare_rate,
        backend=DEFAULT_BACKEND,
        backends=rates,
        network=args.network,
        precision=args.precision,
        batch_size=args.batch_size,
        faces=args.faces,
    )
    finish(figures)


if __name__ == "__main__":
    main()
