"""``ferdesk analyze`` and its Python API: videos and image sequences through the live pipeline.

* :mod:`~ferdesk.analysis.records` — the row (column contract), no heavy imports;
* :mod:`~ferdesk.analysis.analyzer` — one input through detect → classify → track → smooth;
* :mod:`~ferdesk.analysis.runner` — resumable outputs, manifests, summary; :mod:`.engines` (local)
  and :mod:`.ray_engine` (``--engine ray``, the only module that imports Ray);
* :mod:`~ferdesk.analysis.cli` — the command line (``docs/analyze.md``).
"""
