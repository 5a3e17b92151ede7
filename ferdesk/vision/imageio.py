"""Reading any image a user has into one form: an RGB uint8 array, upright.

Every reader in ferdesk (``ferdesk predict``, the training readers, the image source of the app)
goes through :func:`load_image`, so EXIF rotation, 16-bit scans, palettes and transparency are
handled once, and a bad file always gives the same clear, per-file :class:`ImageLoadError` —
whatever the decoder raises, however the file or its path is broken (a damaged EXIF block costs
the orientation at most, never the image). Guards keep every file bounded in cost before any pixel
is decoded: a pixel limit (decompression bombs); for JPEG a scan limit (each scan of a progressive
JPEG makes libjpeg walk every block of the image again, so 300 KB of empty scans cost minutes of
CPU; see :func:`jpeg_scan_cost`) and a check that the file holds enough data for the size its
header claims (a mangled size makes libjpeg paint up to 100 MP of grey).
"""

from __future__ import annotations

import errno
import logging
import math
import mmap
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

#: File suffixes ``ferdesk predict`` and the readers pick up when walking a folder.
IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".pgm", ".ppm"}
)

#: Refuse images above this many pixels before decoding them (decompression-bomb guard).
#: 100 MP is far above any camera photo (a 50 MP phone photo passes) yet stops a 1 GB bomb.
DEFAULT_MAX_PIXELS = 100_000_000

#: A progressive JPEG with more scans than this is refused. Camera and editor files have 1-20
#: (libjpeg's default script: 10; mozjpeg: up to ~20); libjpeg-turbo's own fuzzers and its
#: TurboJPEG scan limit (TJPARAM_SCANLIMIT) use 500 against the "many scans" exploit.
MAX_JPEG_SCANS = 500

#: ...and one whose scans add up to more than this many 8x8 blocks to walk. libjpeg visits every
#: block of a component once per scan of it, even when the scan holds no data (~4 ns a block on a
#: 2020s CPU, far more with data): this bounds a file's decode to about a second or a few. A 100 MP
#: progressive photo with the standard script needs ~15-30 million; 4x that is allowed.
MAX_JPEG_SCAN_BLOCKS = 120_000_000

#: The path limits of Linux (PATH_MAX, NAME_MAX), named in the error for a path that is too long.
PATH_MAX_CHARS = 4096
NAME_MAX_BYTES = 255

_IMAGE_KINDS = "JPEG, PNG, BMP, WebP, TIFF, GIF, PGM/PPM"

# Our own pixel limit (below) is checked first; Pillow's warning between its limit and twice it
# would only be noise. Set once here: catch_warnings() is not thread-safe and readers use threads.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
# Pillow warns about malformed metadata ("Possibly corrupt EXIF data", "Truncated File Read", ...)
# in files it still reads; a file we cannot read gets its own ImageLoadError instead. The warnings
# would otherwise print one stray stderr line per damaged file in the middle of predict's output.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"PIL\.")
# Pillow also logs what it finds wrong in a file it then refuses (logger.error("More samples per
# pixel than can be decoded ...")); with no logging configured, Python's last-resort handler
# prints that on stderr. The refusal reaches the user as our ImageLoadError; an app that configures
# logging still receives the records (the null handler only stops the last-resort printing).
logging.getLogger("PIL").addHandler(logging.NullHandler())


def _quiet_libtiff() -> None:
    """Stop libtiff printing its own notices ("TIFFFillStrip: Read error on strip 0 ...") on stderr.

    libtiff's default handlers write to the process's stderr from C, in the middle of predict's
    output; Pillow installs none. Pillow still raises for the damaged file, which becomes our
    ImageLoadError. Best effort: only Pillow's bundled libtiff (wheels) is found; a Pillow built
    against the system's libtiff keeps its notices.
    """
    import ctypes
    import glob

    import PIL

    for library in glob.glob(
        os.path.join(os.path.dirname(PIL.__file__), os.pardir, "pillow.libs", "libtiff*")
    ):
        try:
            libtiff = ctypes.CDLL(library)
            for setter in (libtiff.TIFFSetErrorHandler, libtiff.TIFFSetWarningHandler):
                setter.argtypes = [ctypes.c_void_p]
                setter.restype = ctypes.c_void_p
                setter(None)
        except (OSError, AttributeError):
            continue


_quiet_libtiff()


class ImageLoadError(ValueError):
    """An image file could not be read; the message names the file and says why.

    ``reason`` is a plain sentence a person can act on (what is wrong, how to fix it); ``detail``,
    when there is one, is the decoder's own text (for a bug report), kept out of ``reason`` so the
    app can speak ``reason`` without reading out a Python error.
    """

    def __init__(self, path: str | os.PathLike, reason: str, detail: str | None = None) -> None:
        self.path = os.fsdecode(path)
        self.reason = reason
        self.detail = detail
        super().__init__(f"{self.path}: {self.full_reason}")

    @property
    def full_reason(self) -> str:
        """``reason`` with the decoder's detail appended in brackets (what ``predict`` prints)."""
        if not self.detail:
            return self.reason
        return f"{self.reason.rstrip('.')} ({self.detail})."


def error_name(error: BaseException) -> str:
    """``struct.error``, ``cv2.error``, ``ValueError``: the exception's name as a bug report wants it."""
    kind = type(error)
    module = kind.__module__
    return kind.__qualname__ if module in ("builtins", "__main__") else f"{module}.{kind.__qualname__}"


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _row_chunks(array: np.ndarray, pixels: int = 1_000_000) -> list[slice]:
    """Row slices of about ``pixels`` each: float64 temporaries of a 100 MP scan would be 800 MB."""
    row = max(1, int(np.prod(array.shape[1:], dtype=np.int64)))
    step = max(1, pixels // row)
    return [slice(top, top + step) for top in range(0, max(array.shape[0], 1), step)]


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """Map 16-bit, 32-bit and float pixel values onto 0-255 without clipping real content."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    result = np.empty(array.shape, np.uint8)
    if array.ndim == 0 or array.size == 0:
        return result
    chunks = _row_chunks(array)
    if np.issubdtype(array.dtype, np.floating):

        def finite(part: np.ndarray) -> np.ndarray:
            return np.nan_to_num(part.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)

        peak = max(float(finite(array[rows]).max(initial=0.0)) for rows in chunks)
        top = 1.0 if peak <= 1.0 else 255.0
        for rows in chunks:
            result[rows] = np.clip(np.rint(finite(array[rows]) / top * 255.0), 0, 255)
        return result
    top = float(array.max(initial=0))
    if top <= 255:
        return np.clip(array, 0, 255).astype(np.uint8)
    full_scale = 65535.0 if top <= 65535 else float(np.iinfo(array.dtype).max)
    for rows in chunks:
        result[rows] = np.clip(np.rint(array[rows].astype(np.float64) / full_scale * 255.0), 0, 255)
    return result


#: Large images are copied out of Pillow in strips of about this many pixels (see pil_to_array).
_STRIP_PIXELS = 4_000_000


def pil_to_array(image: Image.Image) -> np.ndarray:
    """``np.asarray(image)`` without its transient copies for large images.

    ``np.asarray`` goes through ``tobytes()``, which gathers the whole image in chunks and joins
    them: three copies at once (a 67 MP image peaked at 900 MB). Strip by strip into one array,
    the peak is Pillow's image plus the result.
    """
    width, height = image.size
    if width * height <= _STRIP_PIXELS or width >= _STRIP_PIXELS:
        return np.asarray(image)
    rows = max(1, _STRIP_PIXELS // width)
    first = np.asarray(image.crop((0, 0, width, min(rows, height))))
    result = np.empty((height, *first.shape[1:]), dtype=first.dtype)
    result[: first.shape[0]] = first
    for top in range(first.shape[0], height, rows):
        bottom = min(top + rows, height)
        result[top:bottom] = np.asarray(image.crop((0, top, width, bottom)))
    return result


def pil_to_rgb(image: Image.Image) -> np.ndarray:
    """Convert any PIL image (already upright) to an RGB uint8 array."""
    mode = image.mode
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        composite = Image.alpha_composite(background, rgba)
        del rgba, background  # large images: free each step before the next copy
        rgb = composite.convert("RGB")
        del composite
        return pil_to_array(rgb)
    if mode in ("RGB",):
        return pil_to_array(image)
    if mode in ("L", "1", "P", "CMYK", "YCbCr", "LAB", "HSV"):
        if mode in ("L", "1"):
            gray = pil_to_array(image if mode == "L" else image.convert("L"))
            return np.repeat(gray[:, :, np.newaxis], 3, axis=2)
        return pil_to_array(image.convert("RGB"))
    # "I;16", "I;16B", "I", "F" and friends: high bit depth grayscale.
    gray = _to_uint8(pil_to_array(image))
    if gray.ndim == 3:
        gray = gray[:, :, 0]
    return np.repeat(gray[:, :, np.newaxis], 3, axis=2)


# --------------------------------------------------------------------------- the file itself


def describe_os_error(path: str | os.PathLike, error: OSError) -> str:
    """One sentence for an OSError met while reaching ``path``: what is wrong and what to do."""
    code = error.errno
    text = os.fsdecode(path)
    if code == errno.ENOENT:
        if os.path.islink(path):
            try:
                target = os.fsdecode(os.readlink(os.fspath(path)))
            except OSError:
                target = "?"
            return f"broken symbolic link: it points to '{target}', which does not exist."
        return "file not found."
    if code == errno.ELOOP:
        return "symbolic link loop: the link leads (through other links) back to itself; fix or remove it."
    if code == errno.ENAMETOOLONG:
        return (
            f"the path is too long for the system ({len(text):,} characters; the limit is "
            f"{PATH_MAX_CHARS:,} for a path and {NAME_MAX_BYTES} bytes for one name); move the file "
            f"to a shorter path or give it a shorter name."
        )
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied: ferdesk may not read it (check the file's permissions)."
    if code == errno.ENOTDIR:
        return "a part of the path is a file, not a folder."
    if code == errno.EISDIR:
        return "is a folder, not an image file."
    if code == errno.EIO:
        return "the disk reported an input/output error while reading it (a failing disk or card?)."
    return f"cannot be read ({os.strerror(code) if code else error})."


def _check_file(path: Path) -> int:
    """The file's size if it is a non-empty regular file; otherwise :class:`ImageLoadError`."""
    try:
        info = os.stat(path)
    except OSError as error:
        raise ImageLoadError(path, describe_os_error(path, error)) from None
    except ValueError:  # an embedded NUL byte
        raise ImageLoadError(path, "the path holds a NUL character, which no file name can.") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageLoadError(path, "is a folder, not an image file.")
    if not stat.S_ISREG(info.st_mode):
        # Opening a named pipe would block until a writer comes; a device may never end.
        raise ImageLoadError(
            path, "is not a regular file (a named pipe, device or socket); ferdesk reads image files only."
        )
    if info.st_size == 0:
        raise ImageLoadError(path, "the file is empty (0 bytes).")
    return info.st_size


# --------------------------------------------------------------------------- progressive JPEG cost


@dataclass(frozen=True)
class JpegScanCost:
    """How much work a JPEG's scans ask of libjpeg: ``scans`` and 8x8 ``blocks`` visited in all."""

    scans: int
    blocks: int
    progressive: bool
    #: Blocks of one full pass over the image (all components), and whether it is Huffman-coded.
    frame_blocks: int = 0
    huffman: bool = True


_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_PROGRESSIVE_SOF = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
_HUFFMAN_DCT_SOF = frozenset({0xC0, 0xC1, 0xC2})  # baseline, extended, progressive
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})  # TEM, RST0-7, SOI


def _component_blocks(width: int, height: int, h: int, v: int, max_h: int, max_v: int) -> int:
    return math.ceil(math.ceil(width * h / max_h) / 8) * math.ceil(math.ceil(height * v / max_v) / 8)


def jpeg_scan_cost(data: bytes | mmap.mmap, stop_blocks: int | None = None) -> JpegScanCost:
    """Count the scans of the first image in JPEG ``data`` and the blocks they make libjpeg visit.

    Walks the marker segments and skips entropy-coded data with ``find`` (fast: C speed), without
    decoding anything. ``stop_blocks``: stop counting once the total passes it (enough to refuse).
    A component's block count follows its sampling factors; a scan visits the blocks of each
    component it lists, whether or not it carries any data.
    """
    size = len(data)
    position = 2
    width = height = 0
    components: dict[int, tuple[int, int]] = {}
    max_h = max_v = 1
    scans = blocks = 0
    progressive = False
    huffman = True
    while position + 1 < size:
        if data[position] != 0xFF:
            position = data.find(b"\xff", position + 1)
            if position < 0:
                break
            continue
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker == 0x00 or marker in _STANDALONE:  # stuffed 0xFF in entropy data, restart marker
            position += 2
            continue
        if marker == 0xD9:  # end of image
            break
        if position + 3 >= size:
            break
        length = (data[position + 2] << 8) | data[position + 3]
        segment = data[position + 4 : position + 2 + length]
        if marker in _SOF_MARKERS and not components and len(segment) >= 6:
            progressive = marker in _PROGRESSIVE_SOF
            huffman = marker in _HUFFMAN_DCT_SOF
            height = (segment[1] << 8) | segment[2]
            width = (segment[3] << 8) | segment[4]
            for index in range(segment[5]):
                entry = segment[6 + 3 * index : 9 + 3 * index]
                if len(entry) == 3:
                    h, v = max(entry[1] >> 4, 1), max(entry[1] & 0x0F, 1)
                    components[entry[0]] = (h, v)
            if components:
                max_h = max(h for h, _ in components.values())
                max_v = max(v for _, v in components.values())
        elif marker == 0xDA and len(segment) >= 1:
            scans += 1
            for index in range(segment[0]):
                if 1 + 2 * index >= len(segment):
                    break
                h, v = components.get(segment[1 + 2 * index], (max_h, max_v))
                blocks += _component_blocks(width, height, h, v, max_h, max_v)
            if stop_blocks is not None and blocks > stop_blocks:
                break
        position += 2 + max(length, 2)
    frame_blocks = sum(_component_blocks(width, height, h, v, max_h, max_v) for h, v in components.values())
    return JpegScanCost(scans, blocks, progressive, frame_blocks, huffman)


def _check_jpeg_cost(path: Path, width: int, height: int) -> None:
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        cost = jpeg_scan_cost(data, stop_blocks=MAX_JPEG_SCAN_BLOCKS)
        size = len(data)
    if cost.huffman and cost.frame_blocks > 8 * size:
        # Huffman coding spends at least one bit per block on its DC value: a file this small
        # cannot hold the image its header claims (a mangled size, or a cut-off file); libjpeg
        # would spend seconds painting grey over the missing part of up to 100 MP.
        raise ImageLoadError(
            path,
            f"the image is corrupt or truncated: its header says {width}x{height}, which needs at "
            f"least {cost.frame_blocks / 8 / 1024:,.0f} KB of data, and the file has {size / 1024:,.1f} KB.",
        )
    if cost.scans > MAX_JPEG_SCANS or cost.blocks > MAX_JPEG_SCAN_BLOCKS:
        at_least = "at least " if cost.blocks > MAX_JPEG_SCAN_BLOCKS else ""
        raise ImageLoadError(
            path,
            f"refused: this {width}x{height} JPEG has {at_least}{cost.scans:,} scans, which would make "
            f"the decoder visit {at_least}{cost.blocks / 1e6:,.0f} million blocks (limits: "
            f"{MAX_JPEG_SCANS} scans, {MAX_JPEG_SCAN_BLOCKS / 1e6:.0f} million blocks; a camera photo has at "
            f"most a few dozen scans). The file is damaged or made to stall decoders; re-save it as a "
            f"baseline JPEG or PNG if it matters.",
        )


# --------------------------------------------------------------------------- orientation

_TRANSPOSE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def exif_orientation(image: Image.Image) -> int:
    """The EXIF/XMP orientation tag (1-8), or 1 when it is absent or the metadata is damaged.

    Pillow parses EXIF lazily and a damaged block can raise almost anything (struct.error,
    TypeError, AttributeError, ValueError, KeyError, ...); the pixels are fine, so such an image is
    shown as stored rather than lost. Read before ``load()``: TIFF metadata needs the open file.
    """
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:  # any failure of a metadata parser on hostile bytes: orientation unknown
        return 1
    return value if isinstance(value, int) and value in _TRANSPOSE_FOR_ORIENTATION else 1


# --------------------------------------------------------------------------- load_image


def image_pixels(path: str | os.PathLike) -> int:
    """Width x height from the file's header (no decoding), or 0 when it cannot be told."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # opening a named pipe would block
            return 0
        with Image.open(path) as image:
            width, height = image.size
    except Exception:  # any unreadable file: load_image will say why
        return 0
    return max(int(width), 0) * max(int(height), 0)


def load_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file as an upright RGB uint8 array of shape (H, W, 3).

    Raises :class:`ImageLoadError` — and nothing else, for any content of the file — for a missing,
    unreachable, empty, truncated, damaged, unsupported, oversized or stalling file.
    """
    path = Path(path)
    _check_file(path)
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageLoadError(
                    path,
                    f"image is {width}x{height} = {width * height / 1e6:.0f} megapixels, over "
                    f"the {max_pixels / 1e6:.0f} MP limit; scale it down first.",
                )
            if width < 1 or height < 1:
                raise ImageLoadError(path, f"image is {width}x{height} pixels: it holds no picture.")
            if image.format in ("JPEG", "MPO"):
                _check_jpeg_cost(path, width, height)
            orientation = exif_orientation(image)
            image.load()
            upright: Image.Image = image
            if orientation != 1:
                upright = image.transpose(_TRANSPOSE_FOR_ORIENTATION[orientation])
                # The stored pixels, freed before the conversion copies them again (Pillow's stubs
                # type ``im`` as never None; dropping the core is how its own close() frees it).
                image.im = None  # type: ignore[assignment]
            rgb = np.ascontiguousarray(pil_to_rgb(upright))
            upright.im = None  # type: ignore[assignment]
            return rgb
    except ImageLoadError:
        raise
    except MemoryError:
        raise ImageLoadError(path, "not enough memory to decode this image; close other programs.") from None
    except Image.DecompressionBombError:
        raise ImageLoadError(
            path, "refused: too many megapixels, a possible decompression bomb; scale it down first."
        ) from None
    except UnidentifiedImageError:
        raise ImageLoadError(path, f"not a readable image (supported: {_IMAGE_KINDS}).") from None
    except OSError as error:
        if error.errno is not None and getattr(error, "filename", None) is not None:
            raise ImageLoadError(path, describe_os_error(path, error)) from None
        raise ImageLoadError(
            path, "the image is corrupt or truncated.", f"{error_name(error)}: {error}"
        ) from None
    except Exception as error:  # a decoder meeting hostile bytes may raise any type at all
        raise ImageLoadError(
            path, "the image is corrupt or truncated.", f"{error_name(error)}: {error}"
        ) from None
