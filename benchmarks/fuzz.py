"""Fuzzing the image reader and ``ferdesk predict`` with mutated files of every supported format.

    python benchmarks/fuzz.py [--files 10000] [--seed 0] [--keep DIR]

Makes ``--files`` damaged images (bit flips, truncations, mangled headers and dimensions, corrupt
EXIF, extreme sizes, progressive JPEGs with thousands of scans) from the public-domain astronaut
photo, then (1) reads each one with ``load_image`` in this process, timing it, and (2) runs the real
``ferdesk predict --json`` over the whole folder once, checking for a traceback, a missing line, or
an exit status other than 0/1. Prints a table and ends with one JSON line. Figures are recorded in
docs/benchmarks.md. ``tests/test_fuzz_images.py`` runs a few hundred of the same files.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: Each kind of damage, with the share of the corpus it gets.
MUTATIONS: dict[str, float] = {
    "bitflip": 0.22,
    "header": 0.14,
    "truncate": 0.12,
    "dimensions": 0.12,
    "exif": 0.22,
    "extreme_size": 0.08,
    "scans": 0.04,
    "multi": 0.06,
}
FORMATS = ("png", "jpeg", "jpeg_progressive", "gif", "bmp", "tiff", "webp")
SUFFIX = {
    "png": ".png",
    "jpeg": ".jpg",
    "jpeg_progressive": ".jpg",
    "gif": ".gif",
    "bmp": ".bmp",
    "tiff": ".tif",
    "webp": ".webp",
}

#: Sizes of the images in the "extreme_size" kind: valid files a detector must survive.
EXTREME_SIZES = ((5000, 1), (1, 5000), (4000, 2), (2, 4000), (1, 1), (3, 2), (9000, 8), (8, 9000))


@dataclass(frozen=True)
class FuzzFile:
    path: Path
    kind: str
    fmt: str


def _exif_block(rng: random.Random) -> bytes:
    """A real EXIF block: orientation 6, strings, a rational, an Exif sub-IFD and a GPS IFD."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "FuzzCam"
    exif[0x0110] = "Model " + str(rng.randrange(1000))
    exif[0x011A] = IFDRational(72, 1)
    exif[0x0131] = "ferdesk fuzz"
    exif_ifd = exif.get_ifd(0x8769)
    exif_ifd[0x9003] = "2026:12:01 00:00:00"
    exif_ifd[0x829A] = IFDRational(1, 250)
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (IFDRational(52, 1), IFDRational(31, 1), IFDRational(0, 1))
    return exif.tobytes()


def _handmade_exif(rng: random.Random) -> bytes:
    """A TIFF-structured EXIF block whose entries have random types, counts and offsets."""
    endian = rng.choice("<>")
    entries = rng.randrange(1, 12)
    body = bytearray(struct.pack(endian + "2sHI", b"II" if endian == "<" else b"MM", 42, 8))
    body += struct.pack(endian + "H", entries)
    end = 8 + 2 + 12 * entries + 4
    for number in range(entries):
        if number == 0 and rng.random() < 0.7:  # a valid rotation, so readers act on the rest
            body += struct.pack(endian + "HHI", 0x0112, 3, 1) + struct.pack(endian + "HH", 6, 0)
            continue
        tag = rng.choice((0x0112, 0x8769, 0x8825, 0xA005, 0x010F, 0x011A, 0x9003, rng.randrange(65536)))
        kind = rng.choice((1, 2, 3, 4, 5, 7, 9, 10, 11, 12, 13, 16, rng.randrange(256)))
        count = rng.choice((0, 1, 2, 4, 255, 65535, 2**31, rng.randrange(2**32)))
        value = rng.choice((0, 8, end, end + 4, 2**31, rng.randrange(2**32)))
        body += struct.pack(endian + "HHII", tag, kind, count, value)
    body += struct.pack(endian + "I", rng.choice((0, 8, 26, rng.randrange(2**32))))
    body += bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
    return bytes(body)


def base_pixels(size: tuple[int, int] = (64, 64)) -> np.ndarray:
    from skimage import data

    photo = Image.fromarray(data.astronaut()).crop((130, 20, 330, 220))  # the face
    return np.asarray(photo.resize(size, Image.Resampling.BILINEAR))


def encode(pixels: np.ndarray, fmt: str, exif: bytes | None = None) -> bytes:
    image = Image.fromarray(pixels)
    buffer = io.BytesIO()
    options: dict = {}
    if exif is not None and fmt in ("png", "jpeg", "jpeg_progressive", "webp", "tiff"):
        options["exif"] = exif
    if fmt == "jpeg_progressive":
        image.save(buffer, "JPEG", progressive=True, quality=80, **options)
    elif fmt == "gif":
        image.convert("P", palette=Image.Palette.ADAPTIVE).save(buffer, "GIF")
    elif fmt == "tiff":
        image.save(buffer, "TIFF", compression=None, **options)
    elif fmt == "webp":
        image.save(buffer, "WEBP", quality=70, **options)
    else:
        image.save(buffer, fmt.upper(), **options)
    return buffer.getvalue()


def many_scans_jpeg(width: int, height: int, scans: int) -> bytes:
    """A flat grey progressive JPEG followed by ``scans`` empty AC-refinement scans.

    Each 10-byte scan header makes libjpeg walk every block of the image once more (it warns about
    the bogus progression and goes on): a few hundred KB like this cost minutes of CPU unguarded.
    """
    buffer = io.BytesIO()
    Image.new("L", (width, height), 128).save(buffer, "JPEG", progressive=True, quality=50)
    data = buffer.getvalue()
    sof = data.index(b"\xff\xc2")
    component = data[sof + 10]
    scan = b"\xff\xda\x00\x08\x01" + bytes([component, 0x00]) + b"\x01\x3f\x10"
    return data[:-2] + scan * scans + b"\xff\xd9"


def _flip_bits(data: bytearray, rng: random.Random, start: int, end: int, flips: int) -> None:
    end = min(end, len(data))
    if end <= start:
        return
    for _ in range(flips):
        position = rng.randrange(start, end)
        data[position] ^= 1 << rng.randrange(8)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _mangle_dimensions(data: bytearray, fmt: str, rng: random.Random) -> None:
    values = (0, 1, 2, 255, 5000, 65535, 0x7FFF, rng.randrange(65536))
    if fmt == "png" and data[12:16] == b"IHDR":
        width, height = rng.choice(values), rng.choice(values)
        payload = struct.pack(">II", width, height) + bytes(data[24:29])
        data[8:33] = _png_chunk(b"IHDR", payload)
    elif fmt.startswith("jpeg"):
        for marker in (b"\xff\xc0", b"\xff\xc2"):
            at = data.find(marker)
            if at >= 0:
                data[at + 5 : at + 9] = struct.pack(">HH", rng.choice(values), rng.choice(values))
                return
    elif fmt == "gif":
        data[6:10] = struct.pack("<HH", rng.choice(values), rng.choice(values))
        at = data.find(b"\x2c")
        if at >= 0:
            data[at + 5 : at + 9] = struct.pack("<HH", rng.choice(values), rng.choice(values))
    elif fmt == "bmp":
        data[18:26] = struct.pack("<ii", rng.choice((*values, -1, -5000)), rng.choice((*values, -1, -65535)))
    else:
        _flip_bits(data, rng, 0, 64, rng.randrange(1, 8))


def _corrupt_exif(rng: random.Random, fmt: str, pixels: np.ndarray) -> bytes:
    if rng.random() < 0.5:
        block = bytearray(_exif_block(rng))
        _flip_bits(block, rng, 0, len(block), rng.randrange(1, 12))
        if rng.random() < 0.3:
            block = block[: rng.randrange(1, len(block))]
    else:
        block = bytearray(_handmade_exif(rng))
    payload = b"Exif\x00\x00" + bytes(block)
    try:
        return encode(pixels, fmt, exif=payload)
    except Exception:  # the writer itself parses the block (TIFF): JPEG stores it as it is
        return encode(pixels, "jpeg", exif=payload)


def mutate(rng: random.Random, kind: str, fmt: str, pixels: np.ndarray, encoded: bytes) -> tuple[bytes, str]:
    """The bytes of one damaged file of ``kind`` and the format it ends up in."""
    if kind == "exif":
        fmt = fmt if fmt in ("png", "jpeg", "jpeg_progressive", "webp") else "jpeg"
        return _corrupt_exif(rng, fmt, pixels), fmt
    if kind == "extreme_size":
        width, height = rng.choice(EXTREME_SIZES)
        shade = np.full((height, width, 3), rng.randrange(256), np.uint8)
        fmt = rng.choice(("png", "gif", "bmp", "jpeg", "tiff"))
        return encode(shade, fmt), fmt
    if kind == "scans":
        side = rng.choice((256, 512, 1024))
        return many_scans_jpeg(side, side, rng.choice((600, 2000, 5000))), "jpeg_progressive"
    data = bytearray(encoded)
    if kind == "bitflip":
        _flip_bits(data, rng, 0, len(data), rng.randrange(1, 24))
    elif kind == "header":
        _flip_bits(data, rng, 0, min(96, len(data)), rng.randrange(1, 16))
    elif kind == "truncate":
        data = data[: rng.randrange(1, len(data))]
    elif kind == "dimensions":
        _mangle_dimensions(data, fmt, rng)
    elif kind == "multi":
        _mangle_dimensions(data, fmt, rng)
        _flip_bits(data, rng, 0, len(data), rng.randrange(1, 8))
        if rng.random() < 0.5:
            data = data[: rng.randrange(1, len(data))]
    return bytes(data), fmt


def make_corpus(folder: Path, count: int, seed: int = 0) -> list[FuzzFile]:
    """Write ``count`` damaged images into ``folder``, the same ones for the same seed."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    sizes = ((64, 64), (40, 72), (96, 80))
    pixels = {size: base_pixels(size) for size in sizes}
    clean = {(size, fmt): encode(pixels[size], fmt, _exif_block(rng)) for size in sizes for fmt in FORMATS}
    kinds, weights = zip(*MUTATIONS.items(), strict=True)
    files = []
    for number in range(count):
        kind = rng.choices(kinds, weights)[0]
        fmt = rng.choice(FORMATS)
        size = rng.choice(sizes)
        data, fmt = mutate(rng, kind, fmt, pixels[size], clean[(size, fmt)])
        path = folder / f"{number:05d}_{kind}{SUFFIX[fmt]}"
        path.write_bytes(data)
        files.append(FuzzFile(path, kind, fmt))
    return files


def read_each(files: list[FuzzFile]) -> list[dict]:
    """``load_image`` on every file in this process: outcome, wall and CPU time of each.

    CPU time is the steady figure on a shared machine: wall time also counts waiting for a core.
    """
    from ferdesk.vision.imageio import ImageLoadError, load_image

    outcomes = []
    for item in files:
        started = time.perf_counter()
        cpu_started = time.process_time()
        try:
            load_image(item.path)
            outcome, error = "decoded", None
        except ImageLoadError as failure:
            outcome, error = "error", getattr(failure, "full_reason", str(failure))
        except Exception as failure:  # what the fuzzing is for: any other exception is a bug
            outcome, error = "crash", f"{type(failure).__name__}: {failure}"
        outcomes.append(
            {
                "file": item.path.name,
                "kind": item.kind,
                "outcome": outcome,
                "error": error,
                "seconds": time.perf_counter() - started,
                "cpu_seconds": time.process_time() - cpu_started,
            }
        )
    return outcomes


def run_predict(folder: Path, timeout: float, *extra: str) -> dict:
    """The real ``ferdesk predict --json`` over ``folder``: exit status, lines, stderr, wall time."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "ferdesk", "predict", "--json", "--no-progress", *extra, str(folder)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    records = []
    bad_lines = 0
    for line in result.stdout.splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            bad_lines += 1
    return {
        "returncode": result.returncode,
        "records": records,
        "bad_lines": bad_lines,
        "stderr": result.stderr,
        "seconds": time.perf_counter() - started,
    }


def check_predict(files: list[FuzzFile], report: dict) -> list[str]:
    """Every way the predict run can fail the fuzz: traceback, stray stderr, missing line, bad status."""
    problems = []
    if report["returncode"] not in (0, 1):
        problems.append(f"exit status {report['returncode']}: {report['stderr'][-2000:]}")
    if "Traceback" in report["stderr"]:
        problems.append(f"traceback on stderr: {report['stderr'][-2000:]}")
    elif report["stderr"].strip():  # each file's error is its output line; stderr stays quiet
        problems.append(f"stray lines on stderr: {report['stderr'][-2000:]}")
    if report["bad_lines"]:
        problems.append(f"{report['bad_lines']} output lines are not JSON")
    seen = Counter(Path(record["path"]).name for record in report["records"])
    missing = [item.path.name for item in files if seen[item.path.name] != 1]
    if missing:
        problems.append(f"{len(missing)} files without exactly one line, e.g. {missing[:5]}")
    internal = [r for r in report["records"] if r["error"] and "internal error" in r["error"]]
    if internal:
        problems.append(f"{len(internal)} internal errors, e.g. {internal[:2]}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="write the corpus here and keep it")
    args = parser.parse_args()

    from benchmarks.common import finish, machine

    with tempfile.TemporaryDirectory(prefix="ferdesk-fuzz-") as scratch:
        folder = args.keep or Path(scratch) / "corpus"
        started = time.perf_counter()
        files = make_corpus(folder, args.files, args.seed)
        made_s = time.perf_counter() - started
        outcomes = read_each(files)
        predict = run_predict(folder, timeout=max(600.0, args.files * 0.5))
        # The only child process so far: its peak memory, with damaged files claiming up to 100 MP.
        predict_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        problems = check_predict(files, predict)

    times = np.array([o["seconds"] for o in outcomes])
    cpu_times = np.array([o["cpu_seconds"] for o in outcomes])
    by_kind: dict[str, Counter] = {}
    for o in outcomes:
        by_kind.setdefault(o["kind"], Counter())[o["outcome"]] += 1
    print(f"{args.files} files (seed {args.seed}), made in {made_s:.1f} s; {machine()}")
    print(f"{'kind':<14}{'files':>7}{'decoded':>9}{'error':>7}{'crash':>7}")
    for kind in MUTATIONS:
        counts = by_kind.get(kind, Counter())
        total = sum(counts.values())
        print(f"{kind:<14}{total:>7}{counts['decoded']:>9}{counts['error']:>7}{counts['crash']:>7}")
    slowest = max(outcomes, key=lambda o: o["seconds"])
    slowest_cpu = max(outcomes, key=lambda o: o["cpu_seconds"])
    print(
        f"load_image wall: median {np.median(times) * 1000:.2f} ms, p99 {np.percentile(times, 99) * 1000:.1f} ms, "
        f"max {times.max() * 1000:.0f} ms ({slowest['file']})"
    )
    print(
        f"load_image CPU:  median {np.median(cpu_times) * 1000:.2f} ms, "
        f"p99 {np.percentile(cpu_times, 99) * 1000:.1f} ms, max {cpu_times.max() * 1000:.0f} ms "
        f"({slowest_cpu['file']})"
    )
    faces = sum(1 for r in predict["records"] if r["faces"])
    print(
        f"ferdesk predict --json: exit {predict['returncode']}, {len(predict['records'])} lines for "
        f"{len(files)} files, {faces} with a face, {predict['seconds']:.1f} s, peak RSS {predict_peak_mb:.0f} MB; "
        f"problems: {problems or 'none'}"
    )
    crashes = [o for o in outcomes if o["outcome"] == "crash"]
    for crash in crashes[:10]:
        print(f"  crash: {crash['file']}: {crash['error']}")
    finish(
        {
            "benchmark": "fuzz",
            "files": len(files),
            "seed": args.seed,
            "decoded": sum(o["outcome"] == "decoded" for o in outcomes),
            "errors": sum(o["outcome"] == "error" for o in outcomes),
            "crashes": len(crashes),
            "load_median_ms": round(float(np.median(times)) * 1000, 3),
            "load_p99_ms": round(float(np.percentile(times, 99)) * 1000, 2),
            "load_max_ms": round(float(times.max()) * 1000, 1),
            "load_cpu_p99_ms": round(float(np.percentile(cpu_times, 99)) * 1000, 2),
            "load_cpu_max_ms": round(float(cpu_times.max()) * 1000, 1),
            "predict_exit": predict["returncode"],
            "predict_lines": len(predict["records"]),
            "predict_seconds": round(predict["seconds"], 1),
            "predict_peak_rss_mb": round(predict_peak_mb, 1),
            "predict_problems": len(problems),
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
