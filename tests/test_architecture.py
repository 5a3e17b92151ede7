"""The pipeline and the announcement policy are plain Python: no Qt import outside ferdesk/ui."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "qtpy")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_packages_do_not_import_qt():
    core = [p for p in (REPO / "ferdesk").rglob("*.py") if "ui" not in p.relative_to(REPO / "ferdesk").parts]
    assert core, "no core modules found"
    offenders = {str(p.relative_to(REPO)): sorted(_imports(p) & set(QT_MODULES)) for p in core}
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, f"Qt imported outside ferdesk/ui: {offenders}"


def test_inference_does_not_need_tensorflow_or_torch():
    core = [p for p in (REPO / "ferdesk").rglob("*.py")]
    offenders = {
        str(p.relative_to(REPO)): sorted(_imports(p) & {"tensorflow", "torch", "keras", "jax"}) for p in core
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, f"the app must run on LiteRT alone: {offenders}"
