"""Any image a user has is read upright as RGB, and every bad file gets a clear per-file error."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ferdesk.vision.imageio import ImageLoadError, load_image


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
    with pytest.raises(ImageLoadError, match="megapixels"):
        load_image(path)
    assert load_image(path, max_pixels=150_000_000).shape == (12000, 12000, 3)


def test_error_message_names_the_file(tmp_path):
    path = tmp_path / "broken.webp"
    path.write_bytes(b"RIFF0000WEBPVP8 garbage")
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert str(path) in str(info.value)
