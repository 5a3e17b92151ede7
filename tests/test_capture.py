"""Frame sources: video files, still images, image folders, the demo clip, cameras and bad input."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ferdesk.capture import (
    BadFrameError,
    CameraInfo,
    CameraSource,
    CaptureError,
    DemoSource,
    ImageFolderSource,
    ImageSource,
    VideoFileSource,
    list_cameras,
    open_source,
)
from ferdesk.capture.synthetic import ASTRONAUT_FACE, compose_faces, face_crop, three_faces, write_video

CLIP_FRAMES = 20
CLIP_FPS = 20.0


def read_all(source, limit: int = 1000) -> list:
    frames = []
    while len(frames) < limit:
        frame = source.read()
        if frame is None:
            break
        frames.append(frame)
    return frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory, astronaut_rgb) -> Path:
    """A 20-frame 320x240 clip whose first frame is pure red (to catch a BGR/RGB mix-up)."""
    path = tmp_path_factory.mktemp("video") / "three faces.mp4"
    red = np.zeros((240, 320, 3), np.uint8)
    red[:, :, 0] = 255
    faces = list(three_faces(face_crop(astronaut_rgb, ASTRONAUT_FACE), CLIP_FRAMES - 1, size=(320, 240)))
    assert write_video(path, [red, *faces], fps=CLIP_FPS) == CLIP_FRAMES
    return path


def test_video_file_gives_every_frame_in_rgb_then_ends(clip):
    source = open_source(str(clip), loop=False, realtime=False)
    assert isinstance(source, VideoFileSource)
    assert not source.is_live and not source.is_open
    with source:
        assert source.fps == pytest.approx(CLIP_FPS)
        assert "three faces.mp4" in source.name
        frames = read_all(source)
        assert source.read() is None  # stays ended
    assert not source.is_open
    assert len(frames) == CLIP_FRAMES
    assert [f.index for f in frames] == list(range(CLIP_FRAMES))
    assert all(b.timestamp >= a.timestamp for a, b in itertools.pairwise(frames))
    first = frames[0].rgb
    assert first.shape == (240, 320, 3) and first.dtype == np.uint8 and first.flags.c_contiguous
    red, green, blue = first[120, 160].astype(int)
    assert red > 200 and green < 60 and blue < 60, "frames must be RGB, not OpenCV's BGR"
    with pytest.raises(ValueError):
        first[0, 0, 0] = 1  # read-only: copy before drawing


def test_video_file_plays_at_its_own_rate(clip):
    with open_source(str(clip), loop=False) as source:
        start = time.monotonic()
        frames = [source.read() for _ in range(11)]
        elapsed = time.monotonic() - start
    # Ten frame periods at 20 fps: half a second, like a camera (a little slack for the timer).
    assert elapsed >= 10 / CLIP_FPS - 0.03
    spacing = np.diff([f.timestamp for f in frames])
    assert np.median(spacing) == pytest.approx(1 / CLIP_FPS, abs=0.02)


def test_video_file_loops(clip):
    with open_source(str(clip), loop=True, realtime=False) as source:
        frames = [source.read() for _ in range(2 * CLIP_FRAMES + 5)]
    assert all(f is not None for f in frames)
    assert [f.index for f in frames] == list(range(2 * CLIP_FRAMES + 5))
    # Frame 20 is the clip's first frame again (the red one).
    assert np.abs(frames[CLIP_FRAMES].rgb.astype(int) - frames[0].rgb.astype(int)).mean() < 2


def test_mirror_flips_frames_left_right(clip):
    with open_source(str(clip), loop=False, realtime=False) as plain:
        expected = [plain.read().rgb for _ in range(3)]
    with open_source(str(clip), loop=False, realtime=False, mirror=True) as mirrored:
        flipped = [mirrored.read().rgb for _ in range(3)]
    for a, b in zip(expected, flipped, strict=True):
        np.testing.assert_array_equal(b, a[:, ::-1])


def test_image_source_repeats_the_image_at_about_15_fps(tmp_path, astronaut_rgb):
    path = tmp_path / "astronaut.png"
    Image.fromarray(astronaut_rgb).save(path)
    source = open_source(str(path))
    assert isinstance(source, ImageSource) and source.fps == pytest.approx(15.0)
    with source:
        assert source.name == "image astronaut.png (512x512)"
        start = time.monotonic()
        frames = [source.read() for _ in range(7)]
        elapsed = time.monotonic() - start
    assert elapsed >= 6 / 15 - 0.03
    assert [f.index for f in frames] == list(range(7))
    for frame in frames:
        np.testing.assert_array_equal(frame.rgb, astronaut_rgb)
    with open_source(str(path), mirror=True, realtime=False) as mirrored:
        np.testing.assert_array_equal(mirrored.read().rgb, astronaut_rgb[:, ::-1])


def test_image_source_reports_a_broken_image(tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    source = open_source(str(path))
    with pytest.raises(CaptureError, match=r"broken\.jpg: the image is corrupt or truncated"):
        source.open()


def test_folder_is_a_sequence_in_natural_order(tmp_path):
    for number in range(1, 13):  # frame1 .. frame12: "frame10" must come after "frame9"
        Image.fromarray(np.full((40, 60, 3), number * 10, np.uint8)).save(tmp_path / f"frame{number}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    source = open_source(str(tmp_path), loop=False, realtime=False)
    assert isinstance(source, ImageFolderSource)
    with source:
        assert source.name.endswith("(12 images)")
        frames = read_all(source)
    assert [int(f.rgb[0, 0, 0]) for f in frames] == [n * 10 for n in range(1, 13)]
    assert [f.index for f in frames] == list(range(12))


def test_folder_skips_a_broken_picture_with_a_warning_and_goes_on(tmp_path):
    for number in (1, 3):
        Image.fromarray(np.full((40, 60, 3), number * 10, np.uint8)).save(tmp_path / f"img{number}.png")
    (tmp_path / "img2.png").write_bytes(b"not a png")
    with open_source(str(tmp_path), loop=True, realtime=False) as source:
        assert int(source.read().rgb[0, 0, 0]) == 10
        with pytest.raises(BadFrameError, match=r"img2\.png"):
            source.read()
        assert int(source.read().rgb[0, 0, 0]) == 30
        # Second time round the broken file is skipped silently.
        assert [int(source.read().rgb[0, 0, 0]) for _ in range(2)] == [10, 30]


def test_folder_of_broken_pictures_only_is_an_error(tmp_path):
    (tmp_path / "a.png").write_bytes(b"nope")
    with open_source(str(tmp_path), realtime=False) as source:
        with pytest.raises(BadFrameError):
            source.read()
        with pytest.raises(CaptureError, match="none of the 1 images could be read"):
            source.read()


def test_demo_needs_no_camera_and_no_data():
    source = open_source("demo", realtime=False)
    assert isinstance(source, DemoSource) and not source.is_live
    with source:
        assert source.name == "demo"
        assert source.fps == pytest.approx(15.0)
        frames = [source.read() for _ in range(3)]
    assert all(f.rgb.shape == (480, 640, 3) for f in frames)
    assert open_source(" DEMO ").label == "demo"


def test_shipped_demo_clip_is_small():
    source = DemoSource()
    assert source.path.is_file(), "assets/demo.mp4 is missing: run assets/make_demo.py"
    assert source.path.stat().st_size < 1_000_000


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.mp4", r"missing\.mp4: no such file or folder\. Open a camera by number"),
        (lambda d: (d / "notes.txt").write_text("x") and d / "notes.txt", r"not a video or image file"),
        (lambda d: (d / "empty").mkdir() or d / "empty", r"the folder holds no images"),
    ],
)
def test_unknown_or_missing_sources_are_refused_clearly(tmp_path, make, message):
    with pytest.raises(CaptureError, match=message):
        open_source(str(make(tmp_path)))


def test_empty_spec_is_refused():
    with pytest.raises(CaptureError, match="No source given"):
        open_source("  ")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"empty \(0 bytes\)"),
        (
            bytes(np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8)),
            r"could not be opened|no readable",
        ),
        ("truncated", r"could not be opened|no readable"),
    ],
)
def test_corrupt_video_gives_a_clear_capture_error(tmp_path, clip, content, message):
    path = tmp_path / "broken.mp4"
    if content == "truncated":
        data = clip.read_bytes()
        content = data[: len(data) // 3]  # the index (moov) sits at the end: cut off
    path.write_bytes(content)
    source = open_source(str(path))
    with pytest.raises(CaptureError, match=message) as caught:
        source.open()
    assert str(path) in str(caught.value)
    assert not source.is_open


def test_list_cameras_does_not_hang():
    start = time.monotonic()
    cameras = list_cameras()
    assert time.monotonic() - start < 15
    assert all(isinstance(c, CameraInfo) for c in cameras)
    if not list(Path("/dev").glob("video*")):
        assert cameras == []


def test_missing_camera_is_a_capture_error():
    source = open_source("57")
    assert isinstance(source, CameraSource) and source.is_live
    with pytest.raises(CaptureError, match=r"^Camera 57 could not be opened \(busy or not connected\)\.$"):
        source.open()
    with pytest.raises(CaptureError):
        source.read()  # reading an unopened source opens it first
    assert isinstance(open_source("/dev/video57"), CameraSource)
    with pytest.raises(CaptureError, match="Camera 57 could not be opened"):
        open_source("/dev/video57").open()


def test_camera_size_must_be_positive():
    with pytest.raises(ValueError, match="width == 0"):
        open_source("0", width=0)


def test_write_video_refuses_what_it_cannot_write(tmp_path):
    small, large = np.zeros((40, 60, 3), np.uint8), np.zeros((80, 60, 3), np.uint8)
    with pytest.raises(ValueError, match="frame 1 is 60x80, but the video is 60x40"):
        write_video(tmp_path / "mixed.mp4", [small, large])
    with pytest.raises(ValueError, match="no frames given"):
        write_video(tmp_path / "none.mp4", [])
    with pytest.raises(ValueError, match="RGB uint8 frames"):
        write_video(tmp_path / "gray.mp4", [np.zeros((40, 60), np.uint8)])
    with pytest.raises(ValueError, match="at least one face"):
        compose_faces([])


def damage(clip: Path, target: Path, seed: int = 1, flips: int = 3000) -> Path:
    """A copy of ``clip`` with random bytes overwritten in its middle (the frames, not the index)."""
    data = bytearray(clip.read_bytes())
    rng = np.random.default_rng(seed)
    for position in rng.integers(len(data) // 10, len(data) - len(data) // 10, flips):
        data[position] = rng.integers(0, 256)
    target.write_bytes(bytes(data))
    return target


DAMAGED_READER = """
import sys
from ferdesk.capture import BadFrameError, open_source
source = open_source(sys.argv[1], loop=False, realtime=False)
frames = warnings = 0
with source:
    while True:
        try:
            frame = source.read()
        except BadFrameError as error:
            warnings += 1
            print(error)
            continue
        if frame is None:
            break
        frames += 1
print(frames, warnings)
"""


def test_a_damaged_video_plays_on_with_one_summary_and_ffmpeg_kept_quiet(tmp_path):
    import os
    import subprocess
    import sys

    path = damage(DemoSource().path, tmp_path / "damaged.mp4")

    def run(**env_extra: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCV_", "FERDESK_NATIVE"))}
        env.update(env_extra)
        return subprocess.run(
            [sys.executable, "-c", DAMAGED_READER, str(path)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            cwd=Path(__file__).resolve().parent.parent,
        )

    raw = run(FERDESK_NATIVE_LOGS="1")  # what the user sees without the fix: FFmpeg's own lines
    quiet = run()
    assert raw.returncode == quiet.returncode == 0, quiet.stderr
    raw_lines = raw.stderr.splitlines()
    assert len(raw_lines) >= 20 and any("@ 0x" in line for line in raw_lines), raw_lines[:5]
    assert quiet.stderr == "", "FFmpeg's and OpenCV's lines must not reach stderr"
    *messages, counts = quiet.stdout.splitlines()
    frames, warnings = map(int, counts.split())
    assert warnings == 1 and len(messages) == 1
    assert "damaged.mp4: frame" in messages[0] and "is damaged and was skipped" in messages[0]
    assert "FERDESK_NATIVE_LOGS=1" in messages[0]
    assert frames >= 0.8 * 120, "the frames after the damage still play"


def test_a_named_pipe_is_not_called_missing(tmp_path):
    import os

    fifo = tmp_path / "stream.mp4"
    os.mkfifo(fifo)
    with pytest.raises(
        CaptureError, match=r"stream\.mp4: expected a video file, but this is a named pipe \(FIFO\)"
    ):
        open_source(str(fifo))  # and never blocks waiting for a writer
    with pytest.raises(CaptureError, match="named pipe"):
        VideoFileSource(fifo).open()
    (tmp_path / "picture.png").symlink_to(tmp_path / "gone.png")
    with pytest.raises(
        CaptureError, match=r"picture\.png: the image file is a link to something that is missing"
    ):
        open_source(str(tmp_path / "picture.png"))
