"""The SVHN loading path of labhelpers.data, on a small file in SVHN's .mat format (05)."""

import dataclasses
import hashlib

import numpy as np
import pytest
import scipy.io
import torch

import labhelpers.data as data


def _write_svhn(path, n=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)  # SVHN layout: H x W x C x N
    y = np.array([[10], [1], [2], [9], [10]][:n], dtype=np.uint8)  # 10 means digit 0
    scipy.io.savemat(path, {"X": X, "y": y})
    return X, y


@pytest.fixture
def svhn_dir(tmp_path, monkeypatch):
    folder = tmp_path / "svhn"
    folder.mkdir()
    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    monkeypatch.setattr(data, "SYSTEM_DIRS", [])
    spec = data.DATASETS["svhn"]
    files = {split: tuple(dataclasses.replace(f, md5=None, sha256=None, file_sha256=None) for f in fs) for split, fs in spec.files.items()}
    monkeypatch.setitem(data.DATASETS, "svhn", dataclasses.replace(spec, files=files))
    return folder


def test_load_decodes_svhn_mat(svhn_dir, monkeypatch):
    X, _ = _write_svhn(svhn_dir / "train_32x32.mat")
    md5 = hashlib.md5((svhn_dir / "train_32x32.mat").read_bytes()).hexdigest()
    spec = data.DATASETS["svhn"]
    files = dict(spec.files, train=(data.FileSpec("train_32x32.mat", md5=md5),))  # the published md5, for our file
    monkeypatch.setitem(data.DATASETS, "svhn", dataclasses.replace(spec, files=files))
    x, y = data.load("svhn", "train")
    assert x.shape == (5, 3, 32, 32) and x.dtype == torch.float32
    assert y.tolist() == [0, 1, 2, 9, 0]  # label 10 decoded as digit 0
    assert 0.0 <= x.min() and x.max() <= 1.0
    # pixel (row 4, col 7) of channel 2 of image 3 is X[4, 7, 2, 3] / 255
    assert x[3, 2, 4, 7].item() == pytest.approx(X[4, 7, 2, 3] / 255.0)
    x2, _ = data.load("svhn", "train", limit=2)
    assert torch.equal(x2, x[:2])


def test_load_checks_the_svhn_checksum(svhn_dir, monkeypatch):
    _write_svhn(svhn_dir / "test_32x32.mat")
    spec = data.DATASETS["svhn"]
    files = dict(spec.files, test=(data.FileSpec("test_32x32.mat", md5="0" * 32),))
    monkeypatch.setitem(data.DATASETS, "svhn", dataclasses.replace(spec, files=files))
    with pytest.raises(data.ChecksumError):
        data.load("svhn", "test")


def test_missing_svhn_raises_dataset_not_found(svhn_dir, monkeypatch):
    monkeypatch.setattr(data, "OFFLINE", True)
    with pytest.raises(data.DatasetNotFoundError, match="train_32x32.mat"):
        data.load("svhn", "train")


def test_a_mat_file_without_X_is_rejected(svhn_dir):
    scipy.io.savemat(svhn_dir / "train_32x32.mat", {"images": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="expected variables X"):
        data.load("svhn", "train")
