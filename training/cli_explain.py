"""``python -m training explain --model PATH [--method occlusion|saliency|gradcam] --out DIR IMAGE...``

Writes one PNG per image (the face, the heatmap over it, the predicted label) and the raw map as
``.npy``. Each IMAGE is taken as a face crop (like ``ferdesk predict --faces whole``). Occlusion
works on a ``.tflite`` model alone; saliency and Grad-CAM need the ``.keras`` checkpoint.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    from training.explain import METHODS

    parser = subparsers.add_parser(
        "explain",
        help="heatmaps of what a model looked at",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", type=Path, required=True, help="a .keras checkpoint or a .tflite model")
    parser.add_argument("--method", choices=METHODS, default="occlusion", help="(default: %(default)s)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNGs")
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from training.explain import explain_images

    results = explain_images(args.model, args.images, args.out, args.method)
    failed = 0
    for result in results:
        if "error" in result:
            failed += 1
            print(f"{result['image']}: skipped ({result['error']})")
        else:
            print(f"{result['image']}: {result['label']} ({result['probability']:.2f}) → {result['png']}")
    return 1 if failed == len(results) else 0
