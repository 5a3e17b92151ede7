"""quiet_native_logs hides the native libraries' chatter on descriptor 2 and nothing else."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import os, sys, threading, time
    from ferdesk.vision.native_logs import quiet_native_logs

    def worker():
        time.sleep(0.05)
        print("worker error line", file=sys.stderr)

    thread = threading.Thread(target=worker)
    thread.start()
    with quiet_native_logs():
        os.write(2, b"native chatter\\n")
        time.sleep(0.3)
        with quiet_native_logs():
            os.write(2, b"nested native chatter\\n")
    thread.join()
    with quiet_native_logs():
        picked_up = sys.stderr  # what a thread printing at the end of a load holds
    print("late half of a line", file=picked_up)
    os.write(2, b"after the load\\n")
    """
)


def test_native_chatter_hidden_but_python_stderr_of_other_threads_kept():
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert "native chatter" not in done.stderr
    assert "worker error line" in done.stderr
    assert "after the load" in done.stderr
    assert "late half of a line\n" in done.stderr  # a stream handed out during a load is never closed


def test_native_logs_shown_on_request():
    env = {"PATH": "/usr/bin:/bin", "FERDESK_NATIVE_LOGS": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, env=env)
    assert "native chatter" in done.stderr
