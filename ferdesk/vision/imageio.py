"""Reading any image a user has into one form: an RGB uint8 array, upright.

Every reader in ferdesk (``ferdesk predict``, the training readers, the image source of the app)
goes through :func:`load_image`, so EXIF rotation, 16-bit scans, palettes and transparency are
handled once, and a bad file always gives the same clear, per-file :class:`ImageLoadError`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: File suffixes ``ferdesk predict`` and the readers pick up when walking a folder.
IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".pgm", ".ppm"}
)

#: Refuse images above this many pixels before decoding them (decompression-bomb guard).
#: 100 MP is far above any camera photo (a 50 MP phone photo passes) yet stops a 1 GB bomb.
DEFAULT_MAX_PIXELS = 100_000_000

# Our own pixel limit (below) is checked first; Pillow's warning between its limit and twice it
# would only be noise. Set once here: catch_warnings() is not thread-safe and readers use threads.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class ImageLoadError(ValueError):
    """An image file could not be read; the message names the file and says why."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """Map 16-bit, 32-bit and float pixel values onto 0-255 without clipping real content."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        finite = np.nan_to_num(array.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        top = 1.0 if finite.max(initial=0.0) <= 1.0 else 255.0
        return np.clip(np.rint(finite / top * 255.0), 0, 255).astype(np.uint8)
    top = float(array.max(initial=0))
    if top <= 255:
        return np.clip(array, 0, 255).astype(np.uint8)
    full_scale = 65535.0 if top <= 65535 else float(np.iinfo(array.dtype).max)
    return np.clip(np.rint(array.astype(np.float64) / full_scale * 255.0), 0, 255).astype(np.uint8)


def pil_to_rgb(image: Image.Image) -> np.ndarray:
    """Convert any PIL image (already upright) to an RGB uint8 array."""
    mode = image.mode
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    if mode in ("RGB",):
        return np.asarray(image)
    if mode in ("L", "1", "P", "CMYK", "YCbCr", "LAB", "HSV"):
        if mode in ("L", "1"):
            gray = np.asarray(image.convert("L"))
            return np.repeat(gray[:, :, np.newaxis], 3, axis=2)
        return np.asarray(image.convert("RGB"))
    # "I;16", "I;16B", "I", "F" and friends: high bit depth grayscale.
    gray = _to_uint8(np.asarray(image))
    if gray.ndim == 3:
        gray = gray[:, :, 0]
    return np.repeat(gray[:, :, np.newaxis], 3, axis=2)


def load_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file as an upright RGB uint8 array of shape (H, W, 3).

    Raises :class:`ImageLoadError` for a missing, empty, truncated, unsupported or oversized file.
    """
    path = Path(path)
    if not path.exists():
        raise ImageLoadError(path, "file not found.")
    if path.is_dir():
        raise ImageLoadError(path, "is a folder, not an image file.")
    if path.stat().st_size == 0:
        raise ImageLoadError(path, "the file is empty (0 bytes).")
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageLoadError(
                    path,
                    f"image is {width}x{height} = {width * height / 1e6:.0f} megapixels, over "
                    f"the {max_pixels / 1e6:.0f} MP limit; scale it down first.",
                )
            image.load()
            upright = ImageOps.exif_transpose(image)
            return np.ascontiguousarray(pil_to_rgb(upright))
    except ImageLoadError:
        raise
    except Image.DecompressionBombError:
        raise ImageLoadError(
            path, "refused: too many megapixels, a possible decompression bomb; scale it down first."
        ) from None
    except UnidentifiedImageError:
        raise ImageLoadError(
            path,
            "not a readable image (supported: JPEG, PNG, BMP, WebP, TIFF, GIF, PGM/PPM).",
        ) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageLoadError(path, f"the image is corrupt or truncated ({error}).") from None
