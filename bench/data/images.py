"""Reading, writing and converting images: every input becomes 8-bit RGB, or a clear error.

Handled (design.md principle 10): grayscale, palette, RGBA/LA (alpha dropped), 16-bit (either byte
order, grey or colour) and float images (scaled to 8 bit with rounding), other colour modes (converted
to RGB), EXIF orientation. Corrupt or truncated files raise :class:`ImageReadError` naming the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import numpy as np

IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
Quantize = Literal["round", "trunc"]
MAX_PIXELS = 16384 * 16384


class ImageReadError(ValueError):
    """An image file could not be decoded; the message names the file and the reason."""


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if not arr.dtype.isnative:  # PIL 'I;16B' (big-endian 16-bit TIFF): the same values, native byte order
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.uint16:
        return np.round(arr.astype(np.float64) / 257.0).astype(np.uint8)
    if arr.dtype in (np.int32, np.int64, np.uint32):  # PIL 'I' mode (16-bit PNGs)
        peak = 65535.0 if arr.max(initial=0) > 255 else 255.0
        return np.round(np.clip(arr, 0, peak).astype(np.float64) * 255.0 / peak).astype(np.uint8)
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        scale = 255.0 if float(np.nanmax(arr, initial=0.0)) <= 1.0 else 1.0
        return np.round(np.clip(np.nan_to_num(arr) * scale, 0, 255)).astype(np.uint8)
    raise ImageReadError(f"unsupported pixel type {arr.dtype}")


#: Pillow decodes 16-bit-per-sample colour files (PNG, TIFF) to 8 bit by keeping the high byte (a truncation);
#: these raw modes mark them, and :func:`_read_wide_colour` reads the full samples instead (then rounds).
_WIDE_COLOUR_RAWMODE = re.compile(r"(?:RGB|RGBA|RGBX|LA);16[BLN]")
#: EXIF orientation -> the transform that displays the stored pixels upright (as ``ImageOps.exif_transpose``).
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}


def _wide_colour(im: object) -> bool:
    """Whether Pillow would cut this (not yet loaded) image's 16-bit colour samples to their high byte."""
    for tile in getattr(im, "tile", None) or ():
        args = tile[3] if len(tile) > 3 else None
        raw = args if isinstance(args, str) else (args[0] if isinstance(args, tuple) and args else None)
        if isinstance(raw, str) and _WIDE_COLOUR_RAWMODE.fullmatch(raw):
            return True
    return False


def _read_wide_colour(path: Path, size: tuple[int, int], orientation: int) -> np.ndarray | None:
    """The 16-bit samples of a colour PNG/TIFF as ``(H, W, 3)`` uint16 RGB, upright; ``None`` if OpenCV cannot."""
    import cv2

    try:
        arr = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)  # stored orientation, BGR(A)
    except cv2.error:
        return None
    if arr is None or arr.dtype != np.uint16 or arr.shape[:2] != (size[1], size[0]):
        return None
    if arr.ndim == 3 and arr.shape[2] >= 3:
        arr = arr[..., 2::-1]
    elif arr.ndim == 3:
        arr = arr[..., 0]
    return np.ascontiguousarray(_ORIENT.get(orientation, lambda a: a)(arr))


#: What decoding a broken or unsupported file may raise inside PIL (or a plugin a third party patched in,
#: such as ultralytics' HEIF hook, which raises ImportError when its optional package is absent).
DECODE_ERRORS: tuple[type[Exception], ...] = (OSError, SyntaxError, ValueError, ImportError)


def read_label_array(path: str | Path) -> np.ndarray:
    """The raw pixel array of a label image (a class-id PNG), without any colour conversion.

    Raises:
        ImageReadError: missing, empty or undecodable file.

    Example:
        >>> read_label_array("masks/frankfurt_000000_000294.png").dtype  # doctest: +SKIP
        dtype('uint8')
    """
    from PIL import Image

    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise ImageReadError(f"{path}: no such file or empty file")
    try:
        with Image.open(path) as im:
            return np.asarray(im)
    except DECODE_ERRORS as err:
        raise ImageReadError(f"{path}: cannot decode image ({type(err).__name__}: {err})") from err


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as an ``(H, W, 3)`` uint8 RGB array.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> path = Path(tempfile.mkdtemp()) / "grey.png"
        >>> Image.new("L", (5, 3), 128).save(path)  # greyscale: returned as RGB
        >>> img = read_image(path)
        >>> img.shape, img.dtype, int(img[0, 0, 2])
        ((3, 5, 3), dtype('uint8'), 128)

    Raises:
        ImageReadError: the file is missing, empty, truncated, corrupt or not an image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: empty file (0 bytes)")
    try:
        with Image.open(path) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise ImageReadError(f"{path}: {opened.width}x{opened.height} exceeds the {MAX_PIXELS}-pixel limit")
            wide = _wide_colour(opened)
            opened.load()
            im: Image.Image = ImageOps.exif_transpose(opened) or opened
            mode = im.mode
            if mode in ("P", "PA"):
                im = im.convert("RGBA")
                mode = "RGBA"
            wide_arr = None
            if wide:
                orientation = int(opened.getexif().get(0x0112, 1) or 1)
                wide_arr = _read_wide_colour(path, opened.size, orientation)
            if wide_arr is not None:
                arr = wide_arr
            elif mode in ("RGB", "RGBA", "L", "LA", "1") or mode == "F" or mode.startswith("I"):
                arr = np.asarray(im)  # I;16, I, F and friends keep full precision, converted below
            else:  # CMYK, YCbCr, LAB, HSV, RGBX…: their pixels are not RGB
                arr = np.asarray(im.convert("RGB"))
    except ImageReadError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, ImportError) as err:  # = DECODE_ERRORS
        raise ImageReadError(f"{path}: cannot decode image ({type(err).__name__}: {err})") from err
    except Image.DecompressionBombError as err:  # pragma: no cover - depends on PIL limits
        raise ImageReadError(f"{path}: image too large ({err})") from err
    arr = _to_uint8(np.asarray(arr))
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 2:  # LA
        arr = np.repeat(arr[:, :, :1], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:  # RGBA: drop alpha
        arr = arr[:, :, :3]
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ImageReadError(f"{path}: unsupported image shape {arr.shape}")
    return np.ascontiguousarray(arr)


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write an ``(H, W, 3)`` uint8 RGB array; the format follows the suffix (PNG is lossless)."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(path)


def to_tensor(image: np.ndarray):  # -> torch.Tensor
    """``(H, W, 3)`` uint8 → ``(1, 3, H, W)`` float32 in [0, 1]."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float().div_(255.0)


def quantize(tensor, mode: Quantize = "round") -> np.ndarray:
    """``(3, H, W)`` or ``(1, 3, H, W)`` float tensor in [0, 1] → ``(H, W, 3)`` uint8.

    ``round``: ``round(255·x)``; ``trunc``: ``uint8(255·x)`` after clipping, as several official
    deraining test scripts write their outputs (it lowers PSNR by ~0.1–0.2 dB).
    """
    import torch

    t = tensor.detach()
    if t.ndim == 4:
        if t.shape[0] != 1:
            raise ValueError("quantize takes one image; index the batch first")
        t = t[0]
    x = t.float().clamp(0.0, 1.0).mul(255.0)
    x = torch.round(x) if mode == "round" else torch.floor(x)
    if mode not in ("round", "trunc"):
        raise ValueError(f"quantize must be 'round' or 'trunc', not {mode!r}")
    return x.to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def crop_to_multiple(image: np.ndarray, multiple: int) -> np.ndarray:
    """Crop from the top-left corner to a multiple of ``multiple`` (the MSPFN test protocol)."""
    if multiple <= 1:
        return image
    h, w = image.shape[:2]
    return image[: h - h % multiple, : w - w % multiple]
