"""``--engine ray`` on a real local Ray cluster (2 CPUs): the same bytes as ``--engine local``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip(
    "ray", reason="Ray is not installed (pip install 'ferdesk[cluster]'); Ray engine tests skipped"
)

from ferdesk.analysis.cli import main as analyze  # noqa: E402
from tests.analysis_clips import write_corrupt_video, write_image_folder, write_one_face_clip  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster with 2 CPUs (2 worker processes run at once), shut down at the end."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ray_inputs")
    return [
        write_one_face_clip(folder / "a.mp4", frames=16),
        write_one_face_clip(folder / "b.mp4", frames=10, fps=10.0),
        write_corrupt_video(folder / "broken.mp4"),
        write_image_folder(folder / "pictures", frames=4),
    ]


def test_ray_gives_the_local_bytes_and_one_failure_stops_nothing(cluster, inputs, tmp_path, capsys):
    paths = [str(p) for p in inputs]
    assert analyze(["--no-progress", "--out", str(tmp_path / "local"), *paths]) == 1
    local_err = capsys.readouterr().err
    assert analyze(["--no-progress", "--engine", "ray", "--out", str(tmp_path / "ray"), *paths]) == 1
    captured = capsys.readouterr()
    assert ray.is_initialized(), "the engine must leave a cluster it did not start running"
    failures = [line for line in captured.err.splitlines() if line.startswith("ferdesk analyze:")]
    assert len(failures) == 1 and "broken.mp4" in failures[0] and "could not be opened" in failures[0]
    assert failures == [line for line in local_err.splitlines() if line.startswith("ferdesk analyze:")]
    for name in ("a", "b", "pictures"):
        local = (tmp_path / "local" / f"{name}.csv").read_bytes()
        assert local.count(b"\n") > 2
        assert (tmp_path / "ray" / f"{name}.csv").read_bytes() == local, name
    assert (tmp_path / "ray" / "summary.csv").read_bytes() == (
        tmp_path / "local" / "summary.csv"
    ).read_bytes()


def test_each_worker_loads_the_models_once(cluster, inputs, tmp_path):
    from ferdesk.analysis.analyzer import AnalysisOptions
    from ferdesk.analysis.inputs import expand, plan
    from ferdesk.analysis.ray_engine import RayEngine
    from ferdesk.analysis.runner import decide

    items, _ = expand([str(inputs[0]), str(inputs[1]), str(inputs[3])])
    planned = plan(items * 2, tmp_path)  # six tasks for two CPUs
    options = AnalysisOptions()
    decisions = [decide(p, options, "csv", force=True) for p in planned]
    engine = RayEngine(options, progress=False)
    outcomes = list(engine(decisions))
    engine.close()
    assert len(outcomes) == 6 and all(o.ok for o in outcomes)
    pids = {o.worker for o in outcomes}
    assert len(pids) < len(outcomes), "workers must be reused across inputs"
    assert {o.model_loads for o in outcomes} == {1}, "a worker process loads the models once"


def test_address_joins_a_running_cluster_and_reruns_skip(cluster, inputs, tmp_path):
    command = [
        sys.executable,
        "-m",
        "ferdesk",
        "analyze",
        "--no-progress",
        "--engine",
        "ray",
        "--address",
        cluster,
        "--out",
        str(tmp_path),
        str(inputs[0]),
        str(inputs[1]),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
    first = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=240)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "2 analysed, 0 skipped" in first.stdout
    again = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=240)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "0 analysed, 2 skipped (unchanged)" in again.stdout
