"""``python -m training train``: command-line front of :mod:`training.train`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from training.augment import AugmentConfig
from training.train import TrainConfig, default_run_dir, train


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model (resumes an interrupted run folder)",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    defaults = TrainConfig()
    parser.add_argument("--config", type=Path, help="JSON file of TrainConfig settings (flags override it)")
    parser.add_argument("--run", type=Path, help="run folder (default: ~/.cache/ferdesk/runs/MODEL-TIME)")
    parser.add_argument(
        "--restart", action="store_true", help="start over even if the run folder has a checkpoint"
    )
    for name in (
        "model",
        "data",
        "source",
        "optimizer",
        "schedule",
        "balance",
        "init_weights",
        "teacher",
        "precision",
    ):
        parser.add_argument(
            f"--{name.replace('_', '-')}", default=None, help=f"default {getattr(defaults, name)!r}"
        )
    for name in (
        "epochs",
        "batch_size",
        "warmup_epochs",
        "early_stopping_patience",
        "seed",
        "limit_train",
        "limit_val",
        "plateau_patience",
        "freeze_epochs",
    ):
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=int, default=None, help=f"default {getattr(defaults, name)}"
        )
    for name in (
        "learning_rate",
        "weight_decay",
        "momentum",
        "label_smoothing",
        "dropout",
        "class_weight_power",
        "time_budget_minutes",
        "plateau_factor",
        "l2",
        "mixup_alpha",
        "cutmix_alpha",
        "body_lr_multiplier",
        "ema_momentum",
        "teacher_weight",
        "ferplus_weight",
    ):
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=float, default=None, help=f"default {getattr(defaults, name)}"
        )
    parser.add_argument("--no-augment", action="store_true", help="train without augmentation")
    parser.add_argument(
        "--data-parallel",
        action="store_true",
        help="split every batch over all local devices (keras.distribution, JAX backend)",
    )
    parser.epilog = (
        "optimizer: adamw | sgd (Nesterov) | adam | rmsprop; schedule: cosine | plateau | constant; "
        "balance: none | class_weight | oversample | smote | augment; --init-weights PATH: a .keras "
        "checkpoint (matching layers copied), a .weights.h5 file or the backbone's own .h5 file; "
        "--freeze-epochs N trains only the head for N epochs; --body-lr-multiplier M < 1 makes the "
        "body learn M times slower than the head; --ema-momentum 0.998 validates, keeps and exports "
        "an exponential moving average of the weights; --teacher models/ferdesk_accurate.json distils "
        "that ensemble (or a .tflite model) into the network: --teacher-weight of each target is the "
        "teacher's probabilities on the Training face; --ferplus-weight 0.5 makes half of each "
        "FER2013 Training face's target FER+'s vote distribution for the same image; --precision "
        "mixed_bfloat16 computes in bfloat16 (float32 weights; ~1.4x faster on CPUs with AVX-512 "
        "BF16 or AMX, slower elsewhere), and the export is float32 either way."
    )
    parser.add_argument(
        "--no-clean",
        action="store_true",
        help="keep blank, duplicate and leaked faces (see python -m training clean)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    values = json.loads(args.config.read_text()) if args.config else {}
    for name in TrainConfig.__dataclass_fields__:
        value = getattr(args, name, None)
        if value is not None and name != "augment":
            values[name] = value
    config = TrainConfig.from_dict(values)
    if args.no_clean:
        config.clean = False
    if args.no_augment:
        config.augment = AugmentConfig(False, 0, 0, 0, 0, 0, 0)
    run_dir = args.run or default_run_dir(config.model)
    if args.data_parallel:
        from training.distributed import enable_data_parallel

        print(f"Data parallel over {enable_data_parallel(config.batch_size)} devices.")
    state = train(config, run_dir, restart=args.restart)
    return 0 if state.get("best_epoch") else 1
