"""Reading and writing images, depth, disparity and masks with the input contract of docs/design.md §8.

Every reader validates before heavy work and raises one :class:`~genrefocus.errors.InputError`
naming the file: missing, zero-byte, not an image, truncated, decompression bomb (pixel cap),
smaller than 16 px, non-finite or negative depth. Grayscale, palette, RGBA, CMYK, 16-bit and
EXIF-rotated images are converted correctly (RGB float in [0, 1], upright). Writers are atomic.
"""

from __future__ import annotations

import os
import uuid
import warnings
from pathlib import Path
from typing import Callable, Sequence, Union

import numpy as np
import torch

from .errors import InputError

MAX_PIXELS = 200_000_000  # pixel cap against decompression bombs (a 200 MP image still loads)
MIN_SIDE = 16

PathLike = Union[str, Path]


def _check_file(path: PathLike, name: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(name, f"file {str(p)!r} does not exist")
    if not p.is_file():
        raise InputError(name, f"{str(p)!r} is not a file")
    if p.stat().st_size == 0:
        raise InputError(name, f"file {str(p)!r} is empty (0 bytes)")
    return p


def _png_bit_depth(p: Path) -> int:
    with open(p, "rb") as fh:
        head = fh.read(26)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 25:
        return head[24]
    return 8


HEIF_SUFFIXES = (".heic", ".heif", ".hif")


def _enable_heif(name: str) -> None:
    """Let Pillow open HEIC/HEIF (phone photos) through the optional ``pillow-heif`` plug-in. Pillow's
    format registry is process-wide by design; registering the opener is idempotent."""
    try:
        import pillow_heif
    except ImportError:
        raise InputError(name, "HEIC/HEIF images need pillow-heif, which is not installed: pip install "
                               "\"genrefocus[heif]\" (or convert the photo to JPEG/PNG)") from None
    pillow_heif.register_heif_opener()


def read_image_array(path: PathLike, name: str | None = None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode an image file to an upright float32 ``(H, W, C)`` array in [0, 1] keeping its channels
    (1, 2, 3 or 4; CMYK and palette become RGB/RGBA; 16-bit stays 16-bit precise)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    name = name or "image"
    p = _check_file(path, name)
    if p.suffix.lower() in HEIF_SUFFIXES:
        _enable_heif(name)
    try:
        with Image.open(p) as im:
            w, h = im.size
            if w * h > max_pixels:
                raise InputError(name, f"{w}×{h} = {w * h / 1e6:.0f} MP exceeds the {max_pixels / 1e6:.0f} MP "
                                       "pixel cap (possible decompression bomb)")
            if min(w, h) < MIN_SIDE:
                raise InputError(name, f"{w}×{h} is smaller than {MIN_SIDE} px on a side")
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                im.load()
            orientation = im.getexif().get(0x0112, 1)
            if _png_bit_depth(p) == 16 and im.mode not in ("I;16", "I;16B", "I;16L", "I"):
                arr = _read_png16_colour(p, name)
            else:
                im = ImageOps.exif_transpose(im)
                orientation = 1
                if im.mode in ("I;16", "I;16B", "I;16L"):
                    arr = np.asarray(im).astype(np.float32) / 65535.0
                elif im.mode == "I":
                    a = np.asarray(im).astype(np.float32)
                    arr = a / (65535.0 if a.max() > 255 else 255.0)
                elif im.mode == "F":
                    arr = np.asarray(im).astype(np.float32)
                else:
                    if im.mode == "P":
                        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
                    elif im.mode not in ("L", "LA", "RGB", "RGBA"):
                        im = im.convert("RGB")  # CMYK, YCbCr, 1, ...
                    arr = np.asarray(im).astype(np.float32) / 255.0
    except InputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        kind = "not a readable image" if isinstance(exc, UnidentifiedImageError) else "decompression bomb"
        raise InputError(name, f"{str(p)!r} is {kind} ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(name, f"{str(p)!r} is corrupt or truncated ({exc})") from None
    if arr.ndim == 2:
        arr = arr[..., None]
    if orientation != 1:  # OpenCV path: apply the EXIF rotation ourselves
        arr = _exif_orient(arr, orientation)
    return np.clip(arr, 0.0, 1.0)


def _read_png16_colour(p: Path, name: str) -> np.ndarray:
    """16-bit colour PNG at full precision (PIL and imageio reduce these to 8 bit; OpenCV does not)."""
    import cv2

    a = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    if a is None:
        raise InputError(name, f"{str(p)!r} is a corrupt 16-bit PNG")
    if a.ndim == 3:
        a = a[..., [2, 1, 0, 3][: a.shape[-1]]] if a.shape[-1] == 4 else a[..., ::-1]  # BGR(A) → RGB(A)
    return a.astype(np.float32) / 65535.0


def _exif_orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    ops = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: a.transpose(1, 0, 2), 6: lambda a: a.transpose(1, 0, 2)[:, ::-1],
           7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1], 8: lambda a: a.transpose(1, 0, 2)[::-1]}
    return np.ascontiguousarray(ops.get(orientation, lambda a: a)(arr))


def load_image(path: PathLike, name: str | None = None, max_pixels: int = MAX_PIXELS) -> torch.Tensor:
    """An image file as RGB ``(1, 3, H, W)`` float in [0, 1], upright; alpha is dropped and
    grayscale replicated."""
    arr = read_image_array(path, name, max_pixels)
    c = arr.shape[-1]
    if c in (1, 2):
        arr = np.repeat(arr[..., :1], 3, axis=-1)
    arr = arr[..., :3]
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None].float()


def load_frames(path: PathLike, n: int | None = None, name: str | None = None) -> list:
    """The first ``n`` (default: all) frames of a multi-frame file (GIF, TIFF) as ``(1, 3, H, W)``
    tensors in [0, 1], after the same checks as :func:`read_image_array`."""
    from PIL import Image, ImageSequence

    p = Path(path)
    read_image_array(p, name=name or str(p))  # exists, not empty, not truncated, not a bomb
    with Image.open(p) as im:
        frames = []
        for f in ImageSequence.Iterator(im):
            if n is not None and len(frames) == n:
                break
            arr = np.asarray(f.convert("RGB"), np.float32) / 255.0
            frames.append(torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous())
    return frames


def load_mask(path: PathLike, name: str = "mask") -> torch.Tensor:
    """A mask image as bool ``(1, 1, H, W)``: alpha if the image has one, else luma > 0.5."""
    arr = read_image_array(path, name)
    c = arr.shape[-1]
    chan = arr[..., -1] if c in (2, 4) and arr[..., -1].min() < 1.0 else arr[..., :3].mean(-1)
    return torch.from_numpy(chan > 0.5)[None, None]


def load_mask_u8(path: PathLike, name: str = "mask") -> np.ndarray:
    """A mask image as the 8-bit grey ``(H, W)`` array the official Genfocus scripts threshold (grey > 0
    is in focus): PIL ``convert("L")`` — or, for a cut-out with transparency (an alpha channel that is not
    fully opaque), its alpha channel."""
    read_image_array(path, name)  # every check of the image contract first
    from PIL import Image

    with Image.open(path) as im:
        if "A" in im.getbands():
            alpha = np.asarray(im.getchannel("A"))
            if alpha.min() < 255:
                return alpha.copy()
        return np.asarray(im.convert("L")).copy()


def load_disparity(path: PathLike, png_8bit: bool = False, name: str = "disparity") -> torch.Tensor:
    """Disparity ``(1, 1, H, W)``. A float ``.npy``/``.pfm`` is used as given (1/m or any unit the
    caller's K expects); a PNG is relative disparity, min–max normalized to [0, 1] as BokehMe does
    (``png_8bit=True`` first reduces 16-bit values to 8 bit with ``>> 8``, BokehMe's exact read)."""
    p = _check_file(path, name)
    if p.suffix.lower() in (".npy", ".pfm"):
        arr = _load_float_map(p, name)
        return _finite_nonneg(arr, name)
    arr = read_image_array(p, name)[..., 0].astype(np.float64)
    if png_8bit and _png_bit_depth(p) == 16:
        arr = np.floor(np.rint(arr * 65535.0) / 256.0)
    lo, hi = arr.min(), arr.max()
    if hi - lo <= 0:
        raise InputError(name, f"{str(p)!r} is constant; a disparity image needs at least two values")
    return torch.from_numpy(((arr - lo) / (hi - lo)).astype(np.float32))[None, None]


def load_depth(path: PathLike, name: str = "depth") -> torch.Tensor:
    """Metric depth (m) ``(1, 1, H, W)`` from ``.npy`` or ``.pfm``; NaN/inf/negative → error, and so is
    a map with no positive value (zeros mean "no depth here" and are treated as infinitely far)."""
    p = _check_file(path, name)
    if p.suffix.lower() not in (".npy", ".pfm"):
        raise InputError(name, f"{str(p)!r}: depth must be a float .npy or .pfm file in metres")
    depth = _finite_nonneg(_load_float_map(p, name), name)
    if not bool((depth > 0).any()):
        raise InputError(name, f"{str(p)!r} has no positive depth value (all zero): nothing to focus on")
    return depth


def _load_float_map(p: Path, name: str) -> np.ndarray:
    if p.suffix.lower() == ".pfm":
        arr = read_pfm(p)
    else:
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(name, f"{str(p)!r} is not a readable .npy array ({exc})") from None
    arr = np.squeeze(np.asarray(arr))
    if arr.ndim != 2 or arr.dtype.kind not in "fiu":
        raise InputError(name, f"{str(p)!r} must hold a real-valued (H, W) map, got shape {arr.shape} {arr.dtype}")
    if min(arr.shape) < MIN_SIDE:
        raise InputError(name, f"{str(p)!r} is {arr.shape[1]}×{arr.shape[0]}, smaller than {MIN_SIDE} px")
    return arr.astype(np.float32)


def read_pfm(path: PathLike) -> np.ndarray:
    """Read a PFM file (``Pf`` grey or ``PF`` colour) as float32, top row first."""
    with open(path, "rb") as fh:
        header = fh.readline().decode("latin-1").strip()
        if header not in ("PF", "Pf"):
            raise InputError(str(path), "not a PFM file (header must be PF or Pf)")
        dims = fh.readline().decode("latin-1")
        while dims.startswith("#"):
            dims = fh.readline().decode("latin-1")
        w, h = (int(v) for v in dims.split())
        scale = float(fh.readline().decode("latin-1").strip())
        ch = 3 if header == "PF" else 1
        data = np.frombuffer(fh.read(), dtype="<f4" if scale < 0 else ">f4")
    if data.size < w * h * ch:
        raise InputError(str(path), f"truncated PFM: {data.size} of {w * h * ch} values")
    arr = data[: w * h * ch].reshape(h, w, ch) if ch == 3 else data[: w * h].reshape(h, w)
    return np.ascontiguousarray(arr[::-1]).astype(np.float32)


def write_pfm(path: PathLike, arr: np.ndarray) -> None:
    """Write a float array ``(H, W)`` or ``(H, W, 3)`` as little-endian PFM."""
    arr = np.asarray(arr, dtype="<f4")
    header = "PF" if arr.ndim == 3 else "Pf"
    with open(path, "wb") as fh:
        fh.write(f"{header}\n{arr.shape[1]} {arr.shape[0]}\n-1\n".encode("latin-1"))
        fh.write(np.ascontiguousarray(arr[::-1]).tobytes())


def _finite_nonneg(arr: np.ndarray, name: str) -> torch.Tensor:
    bad = ~np.isfinite(arr)
    if bad.any():
        raise InputError(name, f"{int(bad.sum())} NaN/inf values (holes, e.g. occlusions of a stereo map): fill them "
                               "before rendering — with the background's value, or by inpainting — rather than "
                               "replacing them with a huge number")
    if (arr < 0).any():
        raise InputError(name, f"negative values (min {float(arr.min()):.4g})")
    return torch.from_numpy(arr)[None, None]


def check_image(image: torch.Tensor, name: str = "image") -> torch.Tensor:
    """Validate an image tensor: ``(B, 3, H, W)`` (or ``(3, H, W)``) finite float, sides ≥ 16 px;
    returns it as float32 clamped to [0, 1]."""
    if not isinstance(image, torch.Tensor):
        raise InputError(name, f"expected a torch.Tensor (B, 3, H, W), got {type(image).__name__}")
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or image.shape[1] != 3:
        raise InputError(name, f"expected shape (B, 3, H, W), got {tuple(image.shape)}")
    if min(image.shape[-2:]) < MIN_SIDE:
        raise InputError(name, f"{image.shape[-1]}×{image.shape[-2]} is smaller than {MIN_SIDE} px on a side")
    image = image.float()
    if not torch.isfinite(image).all():
        raise InputError(name, "contains NaN/inf values")
    return image.clamp(0.0, 1.0)


def as_image(image, name: str = "image") -> torch.Tensor:
    """Anything a pipeline takes as a photo → ``(B, 3, H, W)`` float in [0, 1]: a path (:func:`load_image`),
    a PIL image, a NumPy ``(H, W[, C])`` array (uint8, or float in [0, 1]) or a tensor (:func:`check_image`)."""
    if isinstance(image, (str, Path)):
        return load_image(image, name=name)
    if type(image).__module__.startswith("PIL."):
        image = np.asarray(image.convert("RGB"))
    if isinstance(image, np.ndarray):
        arr = image.astype(np.float32) / (255.0 if image.dtype == np.uint8 else 1.0)
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, -1)
        image = torch.from_numpy(np.ascontiguousarray(arr[..., :3].transpose(2, 0, 1)))[None]
    return check_image(image, name)


MIN_DP_SIDE = 32  # px: smaller dual-pixel pairs carry no usable disparity


def load_dp_pair(path_or_left: PathLike, right: PathLike | None = None) -> tuple:
    """A dual-pixel pair as two ``(1, 3, H, W)`` tensors: two image files, or one multi-frame file
    (GIF/TIFF, frames 0 and 1). Errors (:class:`InputError`): unreadable files (every check of
    :func:`read_image_array`), a single frame, mismatched sizes, sides < 32 px."""
    if right is not None:
        left_t, right_t = load_image(path_or_left, name="left view"), load_image(right, name="right view")
    else:
        p = Path(path_or_left)
        frames = load_frames(p, n=2)
        if len(frames) < 2:
            raise InputError(str(p), "a dual-pixel file needs two frames (left and right views); got one")
        left_t, right_t = frames
    if left_t.shape != right_t.shape:
        raise InputError("dual-pixel pair", f"views differ in size: {tuple(left_t.shape[-2:])} vs "
                                            f"{tuple(right_t.shape[-2:])}")
    if min(left_t.shape[-2:]) < MIN_DP_SIDE:
        raise InputError("dual-pixel pair", f"{left_t.shape[-1]}×{left_t.shape[-2]} is smaller than {MIN_DP_SIDE} px "
                                            "on a side")
    return left_t, right_t


def resize_image(x: torch.Tensor, size: Sequence[int], quantize_8bit: bool = False) -> torch.Tensor:
    """Resize ``(1, 3, H, W)`` in [0, 1] to ``size = (H', W')`` with PIL's Lanczos-3 filter (widened when
    it shrinks: antialiased, and it keeps the fine detail a triangle filter blurs), on the 8-bit image
    (``quantize_8bit``, the official scripts) or per channel in float32."""
    from PIL import Image

    if tuple(x.shape[-2:]) == tuple(int(s) for s in size):
        return x
    h, w = int(size[0]), int(size[1])
    arr = x[0].detach().float().clamp(0, 1).cpu().numpy()
    if quantize_8bit:
        u8 = np.rint(arr.transpose(1, 2, 0) * 255.0).astype(np.uint8)
        out = np.asarray(Image.fromarray(u8).resize((w, h), Image.LANCZOS)).astype(np.float32) / 255.0
        out = out.transpose(2, 0, 1)
    else:
        out = np.stack([np.asarray(Image.fromarray(c, mode="F").resize((w, h), Image.LANCZOS)) for c in arr])
        out = np.clip(out, 0.0, 1.0)
    return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))[None].to(x.device)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """``(1, C, H, W)`` / ``(C, H, W)`` in [0, 1] → ``(H, W, C)`` uint8, ``round(255·x)`` in float32."""
    x = image[0] if image.ndim == 4 else image
    arr = x.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    return np.rint(arr * np.float32(255.0)).astype(np.uint8)  # round half to even, as diffusers' numpy_to_pil


IMAGE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".tif": "TIFF",
                 ".tiff": "TIFF", ".bmp": "BMP"}


ANIMATION_FORMATS = {".gif": "GIF", ".mp4": "MP4"}

#: what :func:`load_image` reads by extension when listing folders (HEIC/HEIF with pillow-heif)
READ_SUFFIXES = tuple(IMAGE_FORMATS) + HEIF_SUFFIXES


def check_animation_output(path: PathLike, name: str = "--output") -> Path:
    """:func:`check_output_path` for an animation (``.gif``, or ``.mp4`` when PyAV is installed)."""
    p = check_output_path(path, name, suffixes=ANIMATION_FORMATS)
    if p.suffix.lower() == ".mp4":
        try:
            import av  # noqa: F401
        except ImportError:
            raise InputError(name, f"{str(p)!r}: writing .mp4 needs PyAV, which is not installed: pip install "
                                   "\"genrefocus[video]\" (or write a .gif)") from None
    return p


def atomic_write(path: Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path`` (``.tmp-*``), then rename it to
    ``path``: a reader never sees a half-written file, and a failed write leaves nothing behind."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError("output", f"cannot create folder {str(path.parent)!r} ({exc.strerror})") from None
    # a unique name created with mode 0666 so the process umask applies, as for any saved file
    # (mkstemp would make it 0600; reading the umask instead would change it process-wide)
    tmp = str(path.parent / f".tmp-{uuid.uuid4().hex}{path.suffix}")
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """:func:`atomic_write` of ``text``, flushed to disk (fsync) before the rename: a marker or log written
    this way is whole after a crash, or absent."""
    def write(tmp):
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    return atomic_write(Path(path), write)


def save_animation(frames: torch.Tensor, path: PathLike, fps: float = 24.0) -> Path:
    """Write ``frames`` ``(N, 3, H, W)`` in [0, 1] as a looping GIF (Pillow) or an H.264 MP4 (PyAV,
    yuv420p, even sides by padding one edge row/column), atomically."""
    from PIL import Image

    p = check_animation_output(path)
    arr = [to_uint8(f[None]) for f in frames]

    def write(tmp):
        if p.suffix.lower() == ".gif":
            ims = [Image.fromarray(a) for a in arr]
            ims[0].save(tmp, format="GIF", save_all=True, append_images=ims[1:], duration=round(1000 / fps), loop=0)
            return
        import av

        with av.open(tmp, mode="w", format="mp4") as out:
            stream = out.add_stream("libx264", rate=round(fps))
            H, W = arr[0].shape[:2]
            stream.height, stream.width, stream.pix_fmt = H + H % 2, W + W % 2, "yuv420p"
            for a in arr:
                a = np.pad(a, ((0, H % 2), (0, W % 2), (0, 0)), mode="edge")
                for packet in stream.encode(av.VideoFrame.from_ndarray(a, format="rgb24")):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)

    return atomic_write(p, write)


def check_output_path(path: PathLike, name: str = "output", suffixes=None) -> Path:
    """Check, before any work, that ``path`` can be written: a known extension (image formats by
    default), not an existing folder, no existing file among its parents, and a writable folder
    (created if missing). Raises :class:`InputError` naming ``name``."""
    p = Path(path)
    suffixes = IMAGE_FORMATS if suffixes is None else suffixes
    if p.suffix.lower() not in suffixes:
        raise InputError(name, f"{str(p)!r}: unsupported extension {p.suffix or '(none)'!r}; use "
                               f"{', '.join(sorted(set(suffixes)))}")
    if p.is_dir():
        raise InputError(name, f"{str(p)!r} is a folder, not a file name")
    _check_parents(p, name)
    if p.exists() and not os.access(p, os.W_OK):
        raise InputError(name, f"{str(p)!r} exists and is not writable")
    return p


def check_output_dir(path: PathLike, name: str = "--out") -> Path:
    """A folder the run may create or write into: not a file, no file among its parents, the
    nearest existing parent writable."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(name, f"{str(p)!r} is a file, not a folder")
    _check_parents(p, name)
    return p


def _check_parents(p: Path, name: str) -> None:
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(name, f"{str(p)!r}: {str(parent)!r} is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise InputError(name, f"{str(p)!r}: folder {str(parent)!r} is not writable")
            return


def save_image(image: Union[torch.Tensor, np.ndarray], path: PathLike, quality: int = 95) -> Path:
    """Write an image atomically (temporary file + rename); format from the extension."""
    from PIL import Image

    arr = to_uint8(image) if isinstance(image, torch.Tensor) else np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    p = check_output_path(path)
    fmt = IMAGE_FORMATS[p.suffix.lower()]
    return atomic_write(p, lambda tmp: Image.fromarray(arr).save(
        tmp, format=fmt, **({"quality": quality} if fmt == "JPEG" else {})))
