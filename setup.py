"""The one thing ``pyproject.toml`` cannot say: put the top-level ``models/`` and ``assets/`` into the wheel.

The repository keeps the shipped models and the demo clip at the top level (one copy, reviewed and
licensed there). This maps them into the package as ``ferdesk/models/`` and ``ferdesk/assets/``, so
an installed ferdesk finds them through ``importlib.resources`` (``ferdesk.vision.paths``) from any
directory. Packages are found here rather than in ``pyproject.toml`` because setuptools cannot mix
``packages.find`` with extra mapped packages there. Everything else lives in ``pyproject.toml``.
"""

from setuptools import find_namespace_packages, setup

#: Data-only packages: package name → folder in the checkout.
MAPPED_DATA = {"ferdesk.models": "models", "ferdesk.assets": "assets"}

setup(
    # Namespace-aware, as pyproject's packages.find was: a new subpackage needs no __init__.py to ship.
    packages=[
        *find_namespace_packages(
            include=["ferdesk", "ferdesk.*", "training", "training.*"], exclude=["*.__pycache__"]
        ),
        *MAPPED_DATA,
    ],
    package_dir=MAPPED_DATA,
    package_data={
        "ferdesk.models": ["*.tflite", "*.json", "*.txt", "*.md"],
        "ferdesk.assets": ["*.mp4", "*.md", "icons/*.svg"],
        "training": ["README.md", "configs/*.json", "configs/*.md"],
    },
    include_package_data=False,
)
