"""Any image a user has is read upright as RGB, and every bad file gets a clear per-file error."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from benchmarks.fuzz import many_scans_jpeg
from ferdesk.vision.imageio import MAX_JPEG_SCANS, ImageLoadError, jpeg_scan_cost, load_image


def _face_like(height: int = 60, width: int = 40) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".bmp", ".webp", ".tif"])
def test_common_formats_load_as_rgb(tmp_path, suffix):
    path = tmp_path / f"face{suffix}"
    Image.fromarray(_face_like()).save(path)
    image = load_image(path)
    assert image.dtype == np.uint8
    assert image.shape == (60, 40, 3)


def test_exif_rotation_is_honoured(tmp_path):
    pixels = _face_like(60, 40)
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(pixels).save(path, exif=exif)
    assert load_image(path).shape == (40, 60, 3)


def test_grayscale_rgba_and_16_bit(tmp_path):
    gray = np.arange(48 * 48, dtype=np.uint8).reshape(48, 48)
    Image.fromarray(gray).save(tmp_path / "gray.png")
    loaded = load_image(tmp_path / "gray.png")
    assert loaded.shape == (48, 48, 3)
    assert np.array_equal(loaded[:, :, 0], gray)

    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 3] = 0  # fully transparent: composited on white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "clear.png")
    assert load_image(tmp_path / "clear.png").min() == 255

    deep = (np.arange(100, dtype=np.uint16).reshape(10, 10) * 600).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    loaded = load_image(tmp_path / "deep.png")
    assert loaded.dtype == np.uint8
    assert loaded.max() > 200  # scaled down from 16 bit, not clipped to 255 everywhere
    assert len(np.unique(loaded)) > 50


def test_empty_truncated_and_non_image_files(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageLoadError, match="empty"):
        load_image(empty)

    full = tmp_path / "full.jpg"
    Image.fromarray(_face_like(200, 200)).save(full, quality=95)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(full.read_bytes()[: len(full.read_bytes()) // 3])
    with pytest.raises(ImageLoadError, match="corrupt or truncated"):
        load_image(truncated)

    text = tmp_path / "notes.png"
    text.write_text("this is not a picture")
    with pytest.raises(ImageLoadError, match="not a readable image"):
        load_image(text)

    with pytest.raises(ImageLoadError, match="not found"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageLoadError, match="folder"):
        load_image(tmp_path)


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("L", (12000, 12000)).save(path)  # 144 MP of zeros: a few hundred KB on disk
    assert path.stat().st_size < 2_000_000
    started = time.process_time()
    with pytest.raises(ImageLoadError, match="megapixels"):
        load_image(path)
    assert time.process_time() - started < 1.0  # refused from the header, nothing decoded
    # The limit is the caller's: a 9 MP image passes a 10 MP limit and fails an 8 MP one.
    smaller = tmp_path / "nine.png"
    Image.new("L", (3000, 3000)).save(smaller)
    with pytest.raises(ImageLoadError, match="over the 8 MP limit"):
        load_image(smaller, max_pixels=8_000_000)
    assert load_image(smaller, max_pixels=10_000_000).shape == (3000, 3000, 3)


def test_error_message_names_the_file(tmp_path):
    path = tmp_path / "broken.webp"
    path.write_bytes(b"RIFF0000WEBPVP8 garbage")
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------- damaged EXIF


def _tiff_block(second_entry: tuple[int, int, int, int]) -> bytes:
    """An EXIF block: a valid orientation 6 entry, then one entry that breaks Pillow's EXIF writer."""
    tag, kind, count, value = second_entry
    body = struct.pack("<2sHI", b"II", 42, 8) + struct.pack("<H", 2)
    body += struct.pack("<HHI", 0x0112, 3, 1) + struct.pack("<HH", 6, 0)
    body += struct.pack("<HHII", tag, kind, count, value) + struct.pack("<I", 0) + bytes(range(16))
    return b"Exif\x00\x00" + body


# Each made ImageOps.exif_transpose raise (AttributeError, struct.error, TypeError) in Pillow 12,
# which lost the whole image: its pixels and its orientation tag are fine.
DAMAGED_EXIF = {
    "AttributeError": (0x013B, 12, 2, 38),
    "struct.error": (0xA005, 2, 4, 38),
    "TypeError": (0x011A, 7, 1, 8),
}


@pytest.mark.parametrize("breaks_pillow_with", sorted(DAMAGED_EXIF))
def test_damaged_exif_still_gives_the_upright_image(tmp_path, breaks_pillow_with):
    path = tmp_path / "photo.jpg"
    Image.fromarray(_face_like(60, 40)).save(path, exif=_tiff_block(DAMAGED_EXIF[breaks_pillow_with]))
    assert load_image(path).shape == (40, 60, 3)  # orientation 6 still honoured


def test_unparseable_exif_gives_the_image_as_stored(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(_face_like(60, 40)).save(path, exif=b"not a TIFF block at all")
    with Image.open(path) as image, pytest.raises(SyntaxError):
        image.getexif()  # what used to end the read with "corrupt or truncated"
    assert load_image(path).shape == (60, 40, 3)


# --------------------------------------------------------------------------- progressive JPEG scans


def test_many_scan_progressive_jpeg_is_refused_at_once(tmp_path):
    # 22,000 empty scans over a 4096x4096 image: 450 KB, and libjpeg walks all 262,144 blocks
    # once per scan: about 20 s of CPU here unguarded (5,000 scans measured 5.1 s), minutes at 8K.
    path = tmp_path / "stall.jpg"
    path.write_bytes(many_scans_jpeg(4096, 4096, 22_000))
    assert path.stat().st_size < 700_000
    started = time.process_time()
    with pytest.raises(ImageLoadError, match="scans") as info:
        load_image(path)
    assert time.process_time() - started < 1.0
    assert "re-save it" in info.value.reason


def test_scan_cost_counts_every_scan_and_normal_photos_pass(tmp_path, astronaut_rgb):
    plain = io.BytesIO()
    Image.fromarray(astronaut_rgb).save(plain, "JPEG", progressive=True)
    normal = jpeg_scan_cost(plain.getvalue())
    assert normal.progressive and 2 <= normal.scans <= 20
    stuffed = jpeg_scan_cost(many_scans_jpeg(256, 256, 1000))
    assert stuffed.scans > 1000 and stuffed.blocks >= 1000 * (256 // 8) ** 2

    path = tmp_path / "progressive.jpg"
    path.write_bytes(plain.getvalue())
    assert load_image(path).shape == astronaut_rgb.shape
    # Over the scan limit but cheap in blocks: still refused (a camera never writes 600 scans).
    few_blocks = tmp_path / "many.jpg"
    few_blocks.write_bytes(many_scans_jpeg(64, 64, MAX_JPEG_SCANS + 100))
    with pytest.raises(ImageLoadError, match="scans"):
        load_image(few_blocks)


# --------------------------------------------------------------------------- the file itself


def test_links_pipes_and_impossible_paths_each_get_a_clear_error(tmp_path):
    Image.fromarray(_face_like()).save(tmp_path / "real.png")
    (tmp_path / "dangling.png").symlink_to(tmp_path / "gone.png")
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "link.png").symlink_to(tmp_path / "real.png")
    assert load_image(tmp_path / "link.png").shape == (60, 40, 3)
    cases = {
        tmp_path / "dangling.png": "broken symbolic link",
        tmp_path / "loop.png": "symbolic link loop",
        tmp_path / "pipe.png": "not a regular file",  # and returns: opening it would block
        "a/" * 2100 + "long.png": "too long",
        tmp_path / ("n" * 300 + ".png"): "too long",
        str(tmp_path / "nul\0.png"): "NUL",
        tmp_path / "real.png" / "inside.png": "not a folder",
    }
    for path, expected in cases.items():
        with pytest.raises(ImageLoadError, match=expected):
            load_image(path)


def test_any_decoder_exception_becomes_an_image_load_error(tmp_path, monkeypatch):
    path = tmp_path / "face.png"
    Image.fromarray(_face_like()).save(path)

    def broken_load(self):
        raise struct.error("unpack requires a buffer of 4 bytes")

    monkeypatch.setattr(Image.Image, "load", broken_load)
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", broken_load)
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert info.value.reason == "the image is corrupt or truncated."
    assert "struct.error" in info.value.detail and "struct.error" in str(info.value)


def test_the_apps_image_folder_goes_on_past_bad_exif_slow_and_broken_files(tmp_path):
    from ferdesk.capture.sources import BadFrameError, ImageFolderSource

    Image.fromarray(_face_like(60, 40)).save(tmp_path / "1_good.png")
    damaged_exif = _tiff_block(DAMAGED_EXIF["struct.error"])
    Image.fromarray(_face_like(60, 40)).save(tmp_path / "2_exif.jpg", exif=damaged_exif)
    (tmp_path / "3_stall.jpg").write_bytes(many_scans_jpeg(2048, 2048, 6000))
    (tmp_path / "4_broken.jpg").write_bytes((tmp_path / "2_exif.jpg").read_bytes()[:300])
    source = ImageFolderSource(tmp_path, loop=False, realtime=False)
    frames, skipped = [], []
    started = time.monotonic()
    with source:
        while True:
            try:
                frame = source.read()
            except BadFrameError as error:
                skipped.append(str(error))
                continue
            if frame is None:
                break
            frames.append(frame.rgb.shape)
    assert time.monotonic() - started < 5.0  # the stalling file no longer holds the capture thread
    assert frames == [(60, 40, 3), (40, 60, 3)]  # the damaged-EXIF photo is shown, upright
    assert [message.split(":")[0] for message in skipped] == [
        "Skipped a picture, 3_stall.jpg",
        "Skipped a picture, 4_broken.jpg",
    ]
    # Nothing Pythonic is spoken to the user.
    assert not any("Error" in message or "error:" in message for message in skipped)


def test_damaged_files_print_nothing_of_their_own_on_stderr(tmp_path, capfd):
    # libtiff (from C) and Pillow's logger printed notices in the middle of predict's output.
    buffer = io.BytesIO()
    Image.fromarray(_face_like(224, 112)).save(buffer, "TIFF", compression=None)
    plain_entry = struct.pack("<HHIHH", 259, 3, 1, 1, 0)  # Compression = none
    data = buffer.getvalue()
    assert plain_entry in data
    path = tmp_path / "fax.tif"  # claims CCITT G3 for RGB strips: libtiff decodes it, and fails
    path.write_bytes(data.replace(plain_entry, struct.pack("<HHIHH", 259, 3, 1, 3, 0)))
    samples = tmp_path / "samples.tif"  # 2,048 samples per pixel: Pillow's logger.error
    samples.write_bytes(
        data.replace(struct.pack("<HHIHH", 277, 3, 1, 3, 0), struct.pack("<HHIHH", 277, 3, 1, 2048, 0))
    )
    capfd.readouterr()
    for damaged in (path, samples):
        with pytest.raises(ImageLoadError):
            load_image(damaged)
    assert capfd.readouterr().err == ""


def test_a_jpeg_claiming_far_more_pixels_than_its_data_is_refused_at_once(tmp_path):
    # A mangled size field: 90 MP claimed by a 2 KB file. libjpeg "decodes" it anyway, painting
    # grey over the missing data: 1.5-4.5 s and 270 MB for nothing (the fuzz run's slowest files).
    buffer = io.BytesIO()
    Image.fromarray(_face_like(64, 64)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 3000, 30000)
    path = tmp_path / "claims_90mp.jpg"
    path.write_bytes(bytes(data))
    started = time.process_time()
    with pytest.raises(ImageLoadError, match="header says 30000x3000") as info:
        load_image(path)
    assert time.process_time() - started < 0.5
    assert "corrupt or truncated" in info.value.reason


def test_a_large_rotated_photo_is_read_without_extra_copies(tmp_path):
    # np.asarray(PIL image) goes through tobytes (chunks + their join) and a rotation kept the
    # stored pixels alive too: 4-5x the result's size at peak. Now about Pillow's image + the result.
    path = tmp_path / "big.png"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (6000, 5000), (120, 80, 40)).save(path, exif=exif, compress_level=1)
    code = (
        "import resource, sys\n"
        "from ferdesk.vision.imageio import load_image\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "rgb = load_image(sys.argv[1])\n"
        "grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before\n"
        "print(rgb.shape, grown * 1024 / rgb.nbytes)\n"
    )
    command = [sys.executable, "-c", code, str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    shape, ratio = result.stdout.rsplit(" ", 1)
    assert shape == "(6000, 5000, 3)", result.stderr
    assert float(ratio) < 3.2  # 90 MB result; before: 4.7x
