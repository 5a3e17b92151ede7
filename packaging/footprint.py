"""How much disk ferdesk takes: a runtime-only install (its dependency closure) and a bundle.

    python packaging/footprint.py [--extra NAME ...] [--bundle dist/ferdesk]

Sums the installed files (each distribution's RECORD) of ferdesk and everything its requirements
pull in, evaluated for this interpreter, in the current environment. That is what
``pip install ferdesk-*.whl`` into a fresh venv adds (plus pip itself, ~15 MB). Prints one line
per distribution, largest first, and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def closure(root: str, extras: tuple[str, ...] = ()) -> dict[str, metadata.Distribution]:
    """``root`` and every distribution its requirements (with ``extras``) need, transitively."""
    found: dict[str, metadata.Distribution] = {}
    visited: set[tuple[str, str]] = set()
    pending = [(_name(root), extra) for extra in ("", *extras)]
    while pending:
        name, extra = pending.pop()
        if (name, extra) in visited:
            continue
        visited.add((name, extra))
        try:
            dist = found.get(name) or metadata.distribution(name)
        except metadata.PackageNotFoundError:
            print(f"footprint: {name} is required but not installed here; not counted", file=sys.stderr)
            continue
        found[name] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
                continue
            pending += [(_name(requirement.name), e) for e in ("", *requirement.extras)]
    return found


def installed_bytes(dist: metadata.Distribution) -> int:
    total = 0
    for file in dist.files or []:
        path = Path(dist.locate_file(file))
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
    return total


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", action="append", default=[], help="count this extra too (repeatable)")
    parser.add_argument("--bundle", type=Path, help="a built bundle folder to measure as well")
    args = parser.parse_args(argv)
    dists = closure("ferdesk", tuple(args.extra))
    sizes = sorted(((installed_bytes(d), name) for name, d in dists.items()), reverse=True)
    for size, name in sizes:
        print(f"{size / 1e6:9.1f} MB  {name}")
    total = sum(size for size, _ in sizes)
    print(f"{total / 1e6:9.1f} MB  total, {len(sizes)} distributions (extras: {args.extra or 'none'})")
    figures = {
        "benchmark": "footprint",
        "extras": args.extra,
        "install_mb": round(total / 1e6, 1),
        "largest": {name: round(size / 1e6, 1) for size, name in sizes[:6]},
    }
    if args.bundle is not None:
        figures["bundle_mb"] = round(tree_bytes(args.bundle) / 1e6, 1)
        print(f"{figures['bundle_mb']:9.1f} MB  bundle {args.bundle}")
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
