"""The ``ferdesk`` command: ``ferdesk predict ...`` for images, ``ferdesk analyze ...`` for videos,
anything else opens the window."""

from __future__ import annotations

import sys


def version_text() -> str:
    """``ferdesk 0.1.0 (emotion model vgg_compact, /…/ferdesk_emotion.tflite)``: what a bug report needs.

    Reads only the model's sidecar (no LiteRT, no Qt), so it is instant and works without a display.
    """
    from ferdesk import __version__
    from ferdesk.vision.classifier import ModelError, read_sidecar
    from ferdesk.vision.paths import default_emotion_model

    model = default_emotion_model()
    try:
        model_text = f"emotion model {read_sidecar(model).name}, {model}"
    except ModelError as error:
        model_text = f"emotion model not loadable: {error}"
    return f"ferdesk {__version__} ({model_text})"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "predict":
        from ferdesk.predict import main as predict_main

        return predict_main(argv[1:])
    if argv and argv[0] == "analyze":
        from ferdesk.analysis.cli import main as analyze_main

        return analyze_main(argv[1:])
    if argv and argv[0] in ("--version", "-V"):
        print(version_text())
        return 0
    from ferdesk.ui.app import main as app_main

    return app_main(argv)


if __name__ == "__main__":
    sys.exit(main())
