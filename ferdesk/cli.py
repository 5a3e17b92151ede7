"""The ``ferdesk`` command: ``ferdesk predict ...`` for files, anything else opens the window."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "predict":
        from ferdesk.predict import main as predict_main

        return predict_main(argv[1:])
    if argv and argv[0] in ("--version", "-V"):
        from ferdesk import __version__

        print(f"ferdesk {__version__}")
        return 0
    from ferdesk.ui.app import main as app_main

    return app_main(argv)


if __name__ == "__main__":
    sys.exit(main())
