"""A real MJPEG-over-HTTP camera for tests: ``multipart/x-mixed-replace`` JPEG frames on 127.0.0.1.

Phone "IP webcam" apps and most network cameras serve exactly this: one endless HTTP response
whose parts are JPEG pictures. The tests point ferdesk's network-camera source (OpenCV's FFmpeg
backend, the same code path a user's camera takes) at it, then pull the plug to test loss and
reconnection for real:

* :meth:`MjpegServer.stop` closes the listening socket and every stream (a camera switched off);
* :meth:`MjpegServer.freeze` keeps the connections open but sends nothing (a camera that hangs,
  or a Wi-Fi link that drops without a reset), so only a read timeout can notice;
* :meth:`MjpegServer.start` again listens on the **same port** (a camera coming back).

Only ever binds 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

BOUNDARY = "ferdeskframe"
LOOPBACK = "127.0.0.1"


def encode_jpegs(frames_rgb: Sequence[np.ndarray], quality: int = 80) -> list[bytes]:
    """JPEG-encode RGB frames once, up front (the server then only copies bytes)."""
    import cv2

    encoded = []
    for rgb in frames_rgb:
        ok, data = cv2.imencode(
            ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
        )
        if not ok:
            raise ValueError("cv2.imencode could not encode a test frame as JPEG")
        encoded.append(data.tobytes())
    return encoded


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class MjpegServer:
    """Serves ``jpegs`` in a loop at ``fps`` on ``http://127.0.0.1:<port>/video.mjpg``."""

    def __init__(self, jpegs: Sequence[bytes], fps: float = 15.0, port: int = 0) -> None:
        if not jpegs:
            raise ValueError("MjpegServer needs at least one JPEG frame")
        self.jpegs = list(jpegs)
        self.fps = fps
        self.port = port
        self.frames_sent = 0
        self.connections = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._streaming = threading.Event()
        self._lock = threading.Lock()
        self._open_sockets: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/video.mjpg"

    def start(self) -> MjpegServer:
        """Listen (again) on the same port; the port is picked at the first start."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep the test output clean
                pass

            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/video.mjpg":
                    self.send_error(404, "try /video.mjpg")
                    return
                with owner._lock:
                    owner._open_sockets.add(self.connection)
                    owner.connections += 1
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", f"multipart/x-mixed-replace;boundary={BOUNDARY}")
                    self.send_header("Cache-Control", "no-cache")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    owner._stream(self.wfile)
                except OSError:
                    pass  # the client went away, or stop() closed the socket
                finally:
                    with owner._lock:
                        owner._open_sockets.discard(self.connection)

        self._server = _Server((LOOPBACK, self.port), Handler)
        self.port = self._server.server_address[1]
        self._streaming.set()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def _stream(self, wfile) -> None:
        period = 1.0 / self.fps
        index = 0
        due = time.monotonic()
        while self._server is not None:
            if not self._streaming.is_set():
                time.sleep(0.02)  # frozen: connection open, nothing sent
                continue
            jpeg = self.jpegs[index % len(self.jpegs)]
            wfile.write(
                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                + jpeg
                + b"\r\n"
            )
            wfile.flush()
            index += 1
            self.frames_sent += 1
            due += period
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                due = time.monotonic()

    def freeze(self) -> None:
        """Stop sending frames but keep every connection open (only a read timeout notices)."""
        self._streaming.clear()

    def resume(self) -> None:
        self._streaming.set()

    def stop(self) -> None:
        """Close the listening socket and every open stream: the camera is gone."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            sockets = list(self._open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> MjpegServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
