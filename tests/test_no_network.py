"""Nothing leaves the machine: the app, ``ferdesk predict`` and ``ferdesk analyze`` open no
AF_INET/AF_INET6 socket, checked with strace on the real commands.

MediaPipe's Tasks runtime has Google's Clearcut usage logger compiled in (it resolves
``play.googleapis.com``; even loading ``libmediapipe.so`` opens an ``AF_INET`` socket), so the
default detector backend runs BlazeFace through LiteRT instead (``ferdesk.vision.blazeface``).
These tests fail on any internet socket ferdesk's own process creates or uses — a DNS lookup, a
connect, or just a socket created, in any thread or native library — and on any connection from
any process the command starts (``strace -f``) to a non-loopback address or a DNS port; see
:func:`internet_use` for the one allowance (a system helper such as speech-dispatcher on
loopback). They are skipped, with the reason, only where strace is missing or not allowed to
trace (no ptrace in the container).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: ``socket(AF_INET, ...)``, ``socket(AF_INET6, ...)``, or a ``connect``/``sendto`` to such an address.
INTERNET = re.compile(r"socket\(AF_INET6?\b|sa_family=AF_INET6?\b")
#: The calls traced: sockets, and process creation so each line can be tied to its program.
TRACED = "socket,connect,sendto,sendmsg,clone,clone3,fork,vfork,execve"
_LINE = re.compile(r"^(\d+)\s+(.*)$")
_RESULT = re.compile(r"\)\s+=\s+(\d+)")
_IPV4 = re.compile(r'sin_port=htons\((\d+)\), sin_addr=inet_addr\("([\d.]+)"\)')
_IPV6 = re.compile(r'sin6_port=htons\((\d+)\).*?inet_pton\(AF_INET6, "([^"]+)"')


def _loopback(address: str) -> bool:
    return address.startswith("127.") or address in ("::1", "::ffff:127.0.0.1")


def internet_use(lines: list[str]) -> list[str]:
    """The strace lines that break the promise, from a ``-f`` trace with clone/fork/execve in it.

    Forbidden: any internet socket a Python process (ferdesk itself, its threads and native
    libraries) creates or uses, and any connection or datagram to a non-loopback address or to a
    DNS port from any process. Allowed: a system helper the desktop runs — speech-dispatcher,
    started for a running screen reader, probes its MaryTTS module on 127.0.0.1:59125 — talking
    to this machine's loopback only.
    """
    parent: dict[int, tuple[int, bool]] = {}  # tid -> (parent tid, same process?)
    pending: dict[int, bool] = {}
    for line in lines:
        match = _LINE.match(line)
        if not match:
            continue
        tid, call = int(match.group(1)), match.group(2)
        if re.match(r"(clone3?|v?fork)\(", call):
            pending[tid] = "CLONE_THREAD" in call
        result = _RESULT.search(call)
        if tid in pending and result and ("resumed>" in call or re.match(r"(clone3?|v?fork)\(", call)):
            parent[int(result.group(1))] = (tid, pending.pop(tid))

    def process(tid: int) -> int:
        while tid in parent and parent[tid][1]:
            tid = parent[tid][0]
        return tid

    program: dict[int, str] = {}

    def program_of(tid: int) -> str:
        group = process(tid)
        while group not in program and group in parent:
            group = process(parent[group][0])
        return program.get(group, "python")

    bad = []
    for line in lines:
        match = _LINE.match(line)
        if not match:
            continue
        tid, call = int(match.group(1)), match.group(2)
        execve = re.match(r'execve\("([^"]+)"', call)
        if execve and not call.rstrip().endswith("= -1 ENOENT (No such file or directory)"):
            program[process(tid)] = execve.group(1)
        if not INTERNET.search(call):
            continue
        destination = _IPV4.search(call) or _IPV6.search(call)
        leaves = destination is not None and (
            not _loopback(destination.group(2)) or destination.group(1) == "53"
        )
        if leaves or "python" in Path(program_of(tid)).name:
            bad.append(line)
    return bad


def _strace_setup() -> tuple[list[str], str | None]:
    """strace's options here (``--seccomp-bpf`` where it works: only traced calls stop the
    process, so the app runs at full speed), or the reason strace cannot be used."""
    strace = shutil.which("strace")
    if strace is None:
        return [], "strace is not installed (scripts/system-packages.sh installs it on Debian/Ubuntu)"
    problem = ""
    for options in (["-f", "-qq", "--seccomp-bpf"], ["-f", "-qq"]):
        probe = subprocess.run(
            [strace, *options, "-e", "trace=socket", "-o", os.devnull, "--", "true"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if probe.returncode == 0:
            return [strace, *options], None
        problem = probe.stderr.strip()[:200]
    return [], f"strace cannot trace here (no ptrace permission?): {problem}"


_STRACE, _PROBLEM = _strace_setup()
pytestmark = pytest.mark.skipif(_PROBLEM is not None, reason=_PROBLEM or "")


def _ferdesk() -> list[str]:
    return [sys.executable, "-m", "ferdesk"]


def _environment(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FERDESK_DETECTOR_BACKEND", None)  # the default backend is what is promised offline
    env.update(
        QT_QPA_PLATFORM="offscreen",
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "home" / ".config"),
        XDG_RUNTIME_DIR=str(tmp_path / "runtime"),
        PYTHONPATH=str(REPO),
    )
    for folder in ("home", "runtime"):
        (tmp_path / folder).mkdir(exist_ok=True, mode=0o700)
    return env


def run_traced(
    command: list[str], tmp_path: Path, timeout: float = 180, cwd: Path | None = None
) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run ``command`` under ``strace -f``; returns the result and every internet-socket line."""
    log = tmp_path / f"strace-{len(list(tmp_path.glob('strace-*')))}.log"
    result = subprocess.run(
        [*_STRACE, "-e", f"trace={TRACED}", "-o", str(log), "--", *command],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_environment(tmp_path),
        cwd=cwd or tmp_path,
    )
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    return result, internet_use(lines)


def test_the_tracer_sees_an_internet_socket(tmp_path):
    # Without this the tests below could pass by tracing nothing.
    snippet = "import socket, threading\nt = threading.Thread(target=lambda: socket.socket().close())\n"
    result, found = run_traced([sys.executable, "-c", snippet + "t.start(); t.join()"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert found and "AF_INET" in found[0]


def test_the_rule_tells_loopback_helpers_from_the_internet(tmp_path):
    # bash's /dev/udp opens and connects a UDP socket without sending anything.
    local = "exec 3<>/dev/udp/127.0.0.1/9"
    result, found = run_traced(["bash", "-c", local], tmp_path)
    assert result.returncode == 0 and found == []  # a helper program on loopback: allowed
    result, found = run_traced(["bash", "-c", "exec 3<>/dev/udp/192.0.2.1/9"], tmp_path)
    assert result.returncode == 0 and any("192.0.2.1" in line for line in found)
    result, found = run_traced(["bash", "-c", "exec 3<>/dev/udp/127.0.0.53/53"], tmp_path)
    assert any("htons(53)" in line for line in found)  # a DNS lookup, even via a local resolver
    snippet = f"import subprocess; subprocess.run(['bash', '-c', '{local}'], check=True)"
    result, found = run_traced([sys.executable, "-c", snippet], tmp_path)
    assert result.returncode == 0 and found == []  # the child's socket is the child's
    snippet = "import socket; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.connect(('::1', 9))"
    result, found = run_traced([sys.executable, "-c", snippet], tmp_path)
    assert len(found) == 2  # ferdesk's own process: no internet socket at all, not even loopback


def test_the_app_opens_no_internet_socket(tmp_path):
    speech_log = tmp_path / "speech.txt"
    result, found = run_traced(
        [
            *_ferdesk(),
            "--source",
            "demo",
            "--quit-after",
            "8",
            "--no-speech",
            "--speech-log",
            str(speech_log),
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert found == [], "the app opened internet sockets:\n" + "\n".join(found[:20])
    # The run really detected and classified faces (the detector loaded and ran).
    assert "appears" in speech_log.read_text(), speech_log.read_text()


def test_predict_opens_no_internet_socket(tmp_path, astronaut_rgb):
    import cv2

    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2BGR))
    result, found = run_traced([*_ferdesk(), "predict", "--json", str(photo)], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert found == [], "ferdesk predict opened internet sockets:\n" + "\n".join(found[:20])
    record = json.loads(result.stdout.splitlines()[0])
    assert len(record["faces"]) == 1 and record["faces"][0]["emotion"]


def test_predict_with_the_short_detector_opens_no_internet_socket(tmp_path, astronaut_rgb):
    import cv2

    photo = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2BGR))
    result, found = run_traced([*_ferdesk(), "predict", "--detector", "short", str(photo)], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert found == [], "\n".join(found[:20])
    assert "1 face" in result.stdout


def _analyze_command() -> list[str] | None:
    """``ferdesk analyze`` once the CLI routes it; until then its module's ``main``; else None."""
    probe = subprocess.run(
        [*_ferdesk(), "analyze", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)},
    )
    if probe.returncode == 0 and "ferdesk analyze" in probe.stdout:
        return [*_ferdesk(), "analyze"]
    try:
        from ferdesk.analysis.cli import main  # noqa: F401
    except ImportError:
        return None
    runner = "import sys; from ferdesk.analysis.cli import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", runner]


def test_analyze_opens_no_internet_socket(tmp_path):
    command = _analyze_command()
    if command is None:
        pytest.skip("this ferdesk has no 'ferdesk analyze' command yet")
    from ferdesk.vision.paths import assets_dir

    out = tmp_path / "out"
    result, found = run_traced(
        [*command, "--out", str(out), "--no-progress", str(assets_dir() / "demo.mp4")], tmp_path, timeout=400
    )
    assert found == [], "ferdesk analyze opened internet sockets:\n" + "\n".join(found[:20])
    assert result.returncode == 0, result.stderr[-2000:]
    assert list(out.glob("demo*.csv")), sorted(p.name for p in out.iterdir())


def test_the_opt_in_mediapipe_backend_is_what_phones_home(tmp_path, astronaut_rgb):
    """The documented opt-in really is the source of the traffic the docs describe."""
    import cv2

    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2BGR))
    env_command = [
        sys.executable,
        "-c",
        "import os, sys; os.environ['FERDESK_DETECTOR_BACKEND'] = 'mediapipe'; "
        "from ferdesk.cli import main; sys.exit(main(['predict', sys.argv[1]]))",
        str(photo),
    ]
    result, found = run_traced(env_command, tmp_path, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    assert found, "the MediaPipe Tasks backend opened no internet socket: update docs/privacy.md"
