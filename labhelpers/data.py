"""Datasets as in-memory tensors: find, verify, download, decode, batch (taught in 01).

Sources are tried in order: the repo's data/ folder, the system dataset folders, a
checksum-verified download into data/, and, for MNIST only, the 5,000-digit sample
shipped in data/mnist-sample/.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import REPO_ROOT, get_device, parse_bool

DATA_DIR = Path(os.environ.get("LAB_DATA_DIR", REPO_ROOT / "data"))
SYSTEM_DIRS = [Path("/usr/share/datasets")]
SPLITS = ("train", "test")
OFFLINE = bool(parse_bool(os.environ.get("LAB_OFFLINE", "0"), "LAB_OFFLINE"))
# Datasets to treat as absent, e.g. LAB_UNAVAILABLE=fashion-mnist,svhn: how CI runs every lecture's fallback path
# (`make run WITHOUT=fashion-mnist,svhn`) on a machine that has them.
UNAVAILABLE = frozenset(n.strip() for n in os.environ.get("LAB_UNAVAILABLE", "").split(",") if n.strip())
TIMEOUT_S = float(os.environ.get("LAB_DOWNLOAD_TIMEOUT", "5"))  # per connection attempt: fail fast offline
_CHUNK = 1 << 20
_failed_mirrors: set[str] = set()  # mirrors that failed once are not tried again in this process
RETRY_AFTER_S = 600  # a mirror that failed is skipped by every process for 10 minutes (`make data` retries at once)


def _unreachable_file(folder: Path) -> Path:
    return folder / ".unreachable-mirrors.json"


def _recently_failed(folder: Path) -> set[str]:
    import json
    import time

    try:
        marks = json.loads(_unreachable_file(folder).read_text())
    except (OSError, ValueError):
        return set()
    return {m for m, t in marks.items() if isinstance(t, (int, float)) and time.time() - t < RETRY_AFTER_S}


def _mark_failed(folder: Path, mirror: str) -> None:
    import json
    import time

    try:
        marks = json.loads(_unreachable_file(folder).read_text())
    except (OSError, ValueError):
        marks = {}
    marks[mirror] = time.time()
    try:
        tmp = _unreachable_file(folder).with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(marks))
        os.replace(tmp, _unreachable_file(folder))
    except OSError:
        pass


def forget_failed_mirrors() -> None:
    """Try every mirror again (used by `make data`)."""
    _failed_mirrors.clear()
    for spec in DATASETS.values():
        _unreachable_file(DATA_DIR / spec.folder).unlink(missing_ok=True)


class ChecksumError(RuntimeError):
    """A dataset file exists but its content is not the published file."""


class DatasetNotFoundError(FileNotFoundError):
    """No source could provide the dataset."""


class IDXFormatError(ValueError):
    """A file that should be in IDX format is not."""


@dataclass(frozen=True)
class FileSpec:
    """One published file: its name, sha256 of the file as published (`file_sha256`), sha256 of its
    decompressed bytes (`sha256`, robust to re-gzipping), and md5 (used only when no sha256 is known)."""

    name: str
    md5: str | None = None
    sha256: str | None = None
    file_sha256: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset lives and which files make up each split."""

    folder: str
    format: str  # "idx" (images + labels files) or "svhn-mat"
    files: dict[str, tuple[FileSpec, ...]]
    mirrors: tuple[str, ...]
    install_hint: str
    without: str = ""  # what the lectures do where this dataset cannot be had (said once by `make run`)
    sample: dict[str, tuple[FileSpec, ...]] | None = None
    sample_folder: str | None = None


# Published checksums (md5 of the files as served, the values torchvision uses) and,
# where we have verified them, sha256 of the decompressed IDX bytes (robust to re-gzipping,
# e.g. by Debian's dataset-fashion-mnist package).
DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        folder="mnist",
        format="idx",
        files={
            "train": (FileSpec("train-images-idx3-ubyte.gz", md5="f68b3c2dcbeaaa9fbdd348bbdeb94873",
                               file_sha256="440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
                      FileSpec("train-labels-idx1-ubyte.gz", md5="d53e105ee54ea40749a09fcbcd1e9432",
                               file_sha256="3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c")),
            "test": (FileSpec("t10k-images-idx3-ubyte.gz", md5="9fb629c4189551a2d022fa330f9573f3",
                              file_sha256="8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
                     FileSpec("t10k-labels-idx1-ubyte.gz", md5="ec29112dd5afa0611ce80d1b7f02629c",
                              file_sha256="f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6")),
        },
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        install_hint="run `make data` where the network reaches the MNIST mirrors",
        without="the lectures use the 5,000-digit sample shipped in data/mnist-sample",
        sample_folder="mnist-sample",
        sample={
            "train": (FileSpec("train-images-idx3-ubyte.gz",
                               sha256="3743f76777a983584501dc419f3d3b808ea0577a9e21335adcd627fa773d2750"),
                      FileSpec("train-labels-idx1-ubyte.gz",
                               sha256="daf1c61ba276c5ec7656a0a9c541c2f61cb96d7af3a019906cdb4cf08ef09728")),
            "test": (FileSpec("t10k-images-idx3-ubyte.gz",
                              sha256="661b9be9d66bbdec4fdea0720f1e9836bc6594070cb44db09fbd6b9b8f3b60e2"),
                     FileSpec("t10k-labels-idx1-ubyte.gz",
                              sha256="9f9f83403fa89036e5960042fa3fdded854d1e4a5602fe4b476f8ff0e7865ff8")),
        },
    ),
    "fashion-mnist": DatasetSpec(
        folder="fashion-mnist",
        format="idx",
        files={
            "train": (FileSpec("train-images-idx3-ubyte.gz", md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                               sha256="c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
                      FileSpec("train-labels-idx1-ubyte.gz", md5="25c81989df183df01b3e8a0aad5dffbe",
                               sha256="bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9")),
            "test": (FileSpec("t10k-images-idx3-ubyte.gz", md5="bef4ecab320f06d8554ea6380940ec79",
                              sha256="5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
                     FileSpec("t10k-labels-idx1-ubyte.gz", md5="bb300cfdad3c16e7a12a480ee83cd310",
                              sha256="0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34")),
        },
        mirrors=("https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",),
        install_hint="`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu) or `make data`",
        without="01 and 02 take tile-shuffled digits as outliers, 05 trains its conv VAE on digits, "
                "07 shows the likelihood paradox with half-size digits",
    ),
    "svhn": DatasetSpec(
        folder="svhn",
        format="svhn-mat",
        files={
            "train": (FileSpec("train_32x32.mat", md5="e26dedcc434d2e4c54c9b2d4a06d8373",
                               file_sha256="435e94d69a87fde4fd4d7f3dd208dfc32cb6ae8af2240d066de1df7508d083b8"),),
            "test": (FileSpec("test_32x32.mat", md5="eb5a983be6a315427106f1b164d9cef3",
                              file_sha256="cdce80dfb2a2c4c6160906d0bd7c68ec5a99d7ca4831afa54f09182025b6a75b"),),
        },
        mirrors=("https://ufldl.stanford.edu/housenumbers/",),
        install_hint="run `make data` where the network reaches ufldl.stanford.edu "
                     "(or copy train_32x32.mat / test_32x32.mat there)",
        without="05 trains its convolutional VAE on Fashion-MNIST (or digits) instead",
    ),
}

_announced: set[str] = set()


def load(name: str, split: str = "train", device: str | torch.device | None = None,
         limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (images N x C x H x W float in [0, 1], labels N int64) of a named dataset (01)."""
    spec = _spec(name)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for {name!r}; valid splits: {', '.join(SPLITS)}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit={limit!r} must be a whole number >= 1 (how many images), or None for all")
    if device is not None:
        device = get_device(device)
    paths = find(name, split)
    x, y = (_decode_idx(*paths) if spec.format == "idx" else _decode_svhn(*paths))
    if limit is not None:
        x, y = x[:limit], y[:limit]
    if device is not None:
        x, y = x.to(device), y.to(device)
    return x, y


def find(name: str, split: str) -> list[Path]:
    """Return verified paths of the files of one split, trying every source in order (01)."""
    spec = _spec(name)
    if split not in spec.files:
        raise ValueError(f"split={split!r}: {name} has the splits {', '.join(spec.files)}")
    files = spec.files[split]
    if name in UNAVAILABLE:
        raise DatasetNotFoundError(f"{name!r} ({split}) is treated as absent: LAB_UNAVAILABLE={','.join(sorted(UNAVAILABLE))} "
                                   "is set (a fallback run); unset it to use the installed copy")
    looked = []
    for folder in [DATA_DIR / spec.folder] + [d / spec.folder for d in SYSTEM_DIRS]:
        looked.append(str(folder))
        paths = [folder / f.name for f in files]
        if all(p.exists() for p in paths):
            system = folder.parent != DATA_DIR
            for p, f in zip(paths, files):
                fix = (f"it belongs to a system package: reinstall it ({spec.install_hint.split(' or ')[0]}, with "
                       f"--reinstall), or remove {folder} so the course looks elsewhere") if system else \
                    f"delete it and run `make data` to fetch it again (or copy a good {f.name} there)"
                verify(p, f, fix)
            return paths
    if not OFFLINE and spec.mirrors:
        try:
            return [download(f, spec.mirrors, DATA_DIR / spec.folder) for f in files]
        except (OSError, ChecksumError) as err:
            looked.append(f"download from {', '.join(spec.mirrors)} ({err})")
    else:
        looked.append("download (skipped: LAB_OFFLINE is set)" if OFFLINE else "download (no mirror)")
    if spec.sample is not None:
        folder = DATA_DIR / spec.sample_folder
        paths = [folder / f.name for f in spec.sample[split]]
        if all(p.exists() for p in paths):
            for p, f in zip(paths, spec.sample[split]):
                verify(p, f, f"it is tracked in git: restore it with `git checkout -- {p.relative_to(DATA_DIR.parent)}`"
                       if p.is_relative_to(DATA_DIR.parent) else "restore it from the course repository")
            if name not in _announced:
                _announced.add(name)
                n = sum(_idx_shape(p)[0] for p in _sample_image_files(spec))
                print(f"full {name.upper() if name == 'mnist' else name} not found; using the {n:,}-digit "
                      f"sample in data/ — run `make data` for the full set")
            return paths
        looked.append(str(folder))
    raise DatasetNotFoundError(
        f"{name!r} ({split}) not found. Looked in:\n  - " + "\n  - ".join(looked)
        + f"\nTo fix: {spec.install_hint}, or put {', '.join(f.name for f in files)} "
          f"into {DATA_DIR / spec.folder}.")


def available(name: str) -> bool:
    """Whether both splits of a named dataset can be had here (installed, or downloaded now) (01)."""
    try:
        for split in SPLITS:
            find(name, split)
        return True
    except (DatasetNotFoundError, ChecksumError):
        return False


def half_size(x: torch.Tensor) -> torch.Tensor:
    """28x28 images shrunk to 14x14 (area average) and centred on an empty 28x28 canvas: simpler images (07)."""
    if x.ndim != 4 or x.shape[-2:] != (28, 28):
        raise ValueError(f"half_size: expected (N, C, 28, 28) images, got {tuple(x.shape)}")
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"half_size: x has values from {x.min().item():g} to {x.max().item():g}; images here are in "
                         "[0, 1] (divide 0..255 images by 255)")
    return torch.nn.functional.pad(torch.nn.functional.avg_pool2d(x, 2), (7, 7, 7, 7))


def shuffle_tiles(x: torch.Tensor, tile: int = 7, seed: int = 0) -> torch.Tensor:
    """Each image cut into tile x tile squares, put back in a random order: the same ink, no digit (01, 02)."""
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < 1:
        raise ValueError(f"shuffle_tiles: tile={tile!r} must be a whole number >= 1 that divides the image size")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"shuffle_tiles: seed={seed!r} must be a whole number >= 0")
    n, c, h, w = x.shape
    if h % tile or w % tile:
        raise ValueError(f"shuffle_tiles: tile={tile} must divide the image size {h}x{w}")
    gh, gw = h // tile, w // tile
    tiles = x.reshape(n, c, gh, tile, gw, tile).permute(0, 2, 4, 1, 3, 5).reshape(n, gh * gw, c, tile, tile)
    gen = torch.Generator().manual_seed(seed)
    order = torch.stack([torch.randperm(gh * gw, generator=gen) for _ in range(n)]).to(x.device)
    tiles = tiles[torch.arange(n, device=x.device)[:, None], order]
    return tiles.reshape(n, gh, gw, c, tile, tile).permute(0, 3, 1, 4, 2, 5).reshape(n, c, h, w)


OUTLIER_SUBSTITUTE = "tile-shuffled mnist"  # what stands in for Fashion-MNIST as "another dataset" when it is absent


def load_outliers(dataset: str, split: str = "test", limit: int | None = None,
                  device: str | torch.device | None = None) -> tuple[torch.Tensor, str]:
    """Images of another dataset, as outliers for a model of `dataset`, and the name of what was used (01, 02).

    Fashion-MNIST for an MNIST model, MNIST for a Fashion-MNIST model. Where Fashion-MNIST cannot be had, MNIST
    digits cut into 7x7 tiles and shuffled (`shuffle_tiles`) stand in, and one line says so and how to get it.
    """
    other = "fashion-mnist" if dataset == "mnist" else "mnist"
    _spec(dataset)
    if other == "mnist" or available(other):
        return load(other, split, device=device, limit=limit)[0], other
    if "outliers" not in _announced:
        _announced.add("outliers")
        print(f"{other} is not available here (to get it: {DATASETS[other].install_hint}); the outliers are "
              f"{dataset} {split} digits with their 7x7 tiles shuffled instead ('{OUTLIER_SUBSTITUTE}')")
    return shuffle_tiles(load(dataset, split, device=device, limit=limit)[0]), OUTLIER_SUBSTITUTE


def verify(path: Path, spec: FileSpec, fix: str = "delete it and run `make data` to fetch it again") -> None:
    """Raise ChecksumError unless `path` matches the published file's sha256 or its content's sha256.

    md5 is accepted only for files whose sha256 is unknown. `fix` says what restores this file.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} does not exist (or is not a file): nothing to verify; {fix}")
    key = _cache_key(path)
    if key in _verified or (not spec.md5 and not spec.sha256 and not spec.file_sha256):
        return
    raw = path.read_bytes()
    if spec.file_sha256 and hashlib.sha256(raw).hexdigest() == spec.file_sha256:
        _verified.add(key)
        return
    if not spec.file_sha256 and not spec.sha256 and hashlib.md5(raw).hexdigest() == spec.md5:
        _verified.add(key)
        return
    content = _decompress(path, raw, strict=False)
    sha256 = hashlib.sha256(content).hexdigest()
    if not (spec.sha256 and sha256 == spec.sha256):
        expected = spec.file_sha256 or spec.sha256 or spec.md5
        raise ChecksumError(
            f"{path} is corrupted or truncated (its checksum is not the published {expected[:16]}...). "
            f"It was not used. To fix: {fix}.")
    _content[key] = content  # handed to the decoder once, so the file is decompressed only once
    _verified.add(key)


def download(spec: FileSpec, mirrors: tuple[str, ...], folder: Path) -> Path:
    """Fetch one file from the first mirror that serves it, verify it, and move it into place atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / spec.name
    with _lock(folder / f".{spec.name}.lock"):
        if target.exists():  # another process finished while we waited for the lock
            verify(target, spec)
            return target
        skip = _failed_mirrors | _recently_failed(folder)
        problems = [f"{m}: failed in the last {RETRY_AFTER_S // 60} minutes (failed earlier; `make data` retries)"
                    for m in mirrors if m in skip]
        for mirror in mirrors:
            if mirror in skip:
                continue
            print(f"downloading {mirror}{spec.name} (timeout {TIMEOUT_S:g} s) ...", file=sys.stderr, flush=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{spec.name}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out, urllib.request.urlopen(mirror + spec.name, timeout=TIMEOUT_S) as r:
                    expected = r.headers.get("Content-Length")
                    written = 0
                    while chunk := r.read(_CHUNK):
                        out.write(chunk)
                        written += len(chunk)
                if expected is not None and written != int(expected):
                    raise OSError(f"interrupted: got {written} of {expected} bytes")
                verify(Path(tmp), spec)
                os.replace(tmp, target)
                return target
            except (OSError, urllib.error.URLError, ChecksumError) as err:
                problems.append(f"{mirror}{spec.name}: {err}")
                if not isinstance(err, ChecksumError):
                    _failed_mirrors.add(mirror)
                    _mark_failed(folder, mirror)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        raise OSError("; ".join(problems))


def batches(*tensors: torch.Tensor, batch_size: int = 128, shuffle: bool = True,
            generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, ...]]:
    """Yield mini-batches of in-memory tensors by (shuffled) index slicing (01)."""
    if not tensors:
        raise ValueError("batches needs at least one tensor, e.g. batches(x_train, batch_size=128)")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a whole number >= 1")
    if not all(isinstance(t, torch.Tensor) for t in tensors):
        raise TypeError(f"batches takes tensors, got {[type(t).__name__ for t in tensors]}; use torch.as_tensor")
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError(f"all tensors need the same first dimension, got {[len(t) for t in tensors]}")
    order = torch.randperm(n, generator=generator, device=tensors[0].device) if shuffle else None
    for start in range(0, n, batch_size):
        if order is None:
            yield tuple(t[start:start + batch_size] for t in tensors)
        else:
            idx = order[start:start + batch_size]
            yield tuple(t[idx] for t in tensors)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzip or raw) into a numpy array, checking its header against its size."""
    data = _read_bytes(Path(path))
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES or data[3] == 0:
        raise IDXFormatError(f"{path} is not an IDX file (bad magic number {data[:4].hex() or 'empty'}); "
                             "expected MNIST-style files such as train-images-idx3-ubyte.gz")
    dtype, ndim = np.dtype(_IDX_TYPES[data[2]]).newbyteorder(">"), data[3]
    if len(data) < 4 + 4 * ndim:
        raise IDXFormatError(f"{path}: IDX header is truncated")
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    body = data[4 + 4 * ndim:]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(body) != expected:
        raise IDXFormatError(f"{path}: header says shape {shape} ({expected} bytes) but the file holds "
                             f"{len(body)} bytes; the file is truncated or corrupted. Delete it and run `make data`.")
    return np.frombuffer(body, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32, 0x0D: np.float32, 0x0E: np.float64}


def _spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    return DATASETS[name]


def _decode_idx(images_path: Path, labels_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise IDXFormatError(f"{images_path} / {labels_path}: expected N x H x W images and N labels, "
                             f"got shapes {images.shape} and {labels.shape}")
    x = torch.from_numpy(images).unsqueeze(1).float().div_(255.0)
    return x, torch.from_numpy(labels.astype(np.int64))


def _decode_svhn(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    import scipy.io

    try:
        mat = scipy.io.loadmat(path)
    except Exception as err:  # scipy raises several types for non-MAT input
        raise ValueError(f"{path} is not an SVHN .mat file ({err}); expected torchvision's "
                         "train_32x32.mat / test_32x32.mat format") from err
    if "X" not in mat or "y" not in mat or mat["X"].ndim != 4:
        raise ValueError(f"{path}: expected variables X (32 x 32 x 3 x N) and y (N x 1) as in SVHN's "
                         f"train_32x32.mat, found {sorted(k for k in mat if not k.startswith('__'))}")
    x = torch.from_numpy(np.ascontiguousarray(mat["X"].transpose(3, 2, 0, 1))).float().div_(255.0)
    y = torch.from_numpy(mat["y"].astype(np.int64).reshape(-1) % 10)  # SVHN stores digit 0 as label 10
    return x, y


def _sample_image_files(spec: DatasetSpec) -> list[Path]:
    return [DATA_DIR / spec.sample_folder / files[0].name for files in spec.sample.values()]


def _idx_shape(path: Path) -> tuple[int, ...]:
    return read_idx(path).shape


def _read_bytes(path: Path) -> bytes:
    """The (decompressed) bytes of a file, reusing what verify() already decompressed."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (or is not a file); run `make data`, or check the path")
    content = _content.pop(_cache_key(path), None)
    return content if content is not None else _decompress(path, path.read_bytes())


def _decompress(path: Path, raw: bytes, strict: bool = True) -> bytes:
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as err:
        if not strict:
            return b""
        raise ChecksumError(f"{path} is a damaged gzip file ({err}); delete it and run `make data`.") from err


def _cache_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_size, st.st_mtime_ns


_verified: set[tuple[str, int, int]] = set()  # files that passed verify() in this process
_content: dict[tuple[str, int, int], bytes] = {}


class _lock:
    """An exclusive advisory file lock (POSIX); a no-op where fcntl is missing."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.f = open(self.path, "w")
        try:
            import fcntl

            fcntl.flock(self.f, fcntl.LOCK_EX)
        except ImportError:
            pass
        return self

    def __exit__(self, *exc):
        self.f.close()
