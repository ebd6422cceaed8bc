"""labhelpers.data: every source path, verification, atomic downloads, batching, clear errors."""

import gzip
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from helpers import FileServer, idx_bytes, spec_for, tiny_idx_dataset, write_files

from labhelpers import data


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A registered toy dataset with no files anywhere yet; returns (files, tmp_path)."""
    files = tiny_idx_dataset()
    monkeypatch.setattr(data, "DATA_DIR", tmp_path / "repo-data")
    monkeypatch.setattr(data, "SYSTEM_DIRS", [tmp_path / "system"])
    monkeypatch.setattr(data, "OFFLINE", False)
    monkeypatch.setitem(data.DATASETS, "toy", spec_for(files))
    return files, tmp_path



def test_loads_from_repo_data_folder(toy):
    files, tmp = toy
    write_files(tmp / "repo-data" / "toy", files)
    x, y = data.load("toy", "train")
    raw = np.frombuffer(gzip.decompress(files["train-images-idx3-ubyte.gz"])[16:], np.uint8).reshape(-1, 1, 8, 8)
    assert x.shape == (12, 1, 8, 8) and x.dtype == torch.float32
    assert torch.equal(x, torch.from_numpy(raw.astype(np.float32) / 255))
    assert y.dtype == torch.int64 and y.shape == (12,)
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_repo_folder_wins_over_system_folder(toy):
    files, tmp = toy
    write_files(tmp / "repo-data" / "toy", files)
    write_files(tmp / "system" / "toy", {k: b"garbage" for k in files})  # would fail verification if used
    assert data.find("toy", "test")[0].parent == tmp / "repo-data" / "toy"


def test_loads_from_system_folder(toy):
    files, tmp = toy
    write_files(tmp / "system" / "toy", files)
    paths = data.find("toy", "test")
    assert paths[0].parent == tmp / "system" / "toy"
    x, y = data.load("toy", "test", limit=5)
    assert x.shape == (5, 1, 8, 8) and y.shape == (5,)


def test_load_moves_to_device(toy):
    files, tmp = toy
    write_files(tmp / "repo-data" / "toy", files)
    x, y = data.load("toy", device="cpu")
    assert x.device.type == "cpu" and y.device.type == "cpu"


def test_downloads_verifies_and_caches(toy):
    files, tmp = toy
    with FileServer(files) as server:
        data.DATASETS["toy"] = spec_for(files, mirrors=(server.url,))
        x, _ = data.load("toy", "train")
        assert (tmp / "repo-data" / "toy" / "train-images-idx3-ubyte.gz").read_bytes() == files["train-images-idx3-ubyte.gz"]
        data.load("toy", "train")  # second load reads the cached copy
        assert server.requests["train-images-idx3-ubyte.gz"] == 1
    assert x.shape == (12, 1, 8, 8)
    assert not list((tmp / "repo-data" / "toy").glob("*.part"))


def test_download_falls_back_to_second_mirror(toy):
    files, tmp = toy
    with FileServer({}) as empty, FileServer(files) as good:
        data.DATASETS["toy"] = spec_for(files, mirrors=(empty.url, good.url))
        data.load("toy", "test")
        assert empty.requests and good.requests["t10k-images-idx3-ubyte.gz"] == 1


def test_download_with_wrong_checksum_is_rejected_and_not_kept(toy):
    files, tmp = toy
    served = dict(files, **{"train-images-idx3-ubyte.gz": gzip.compress(idx_bytes(np.zeros((12, 8, 8))), mtime=0)})
    with FileServer(served) as server:
        data.DATASETS["toy"] = spec_for(files, mirrors=(server.url,))
        with pytest.raises(data.DatasetNotFoundError, match="corrupted or truncated"):
            data.load("toy", "train")
    folder = tmp / "repo-data" / "toy"
    assert not (folder / "train-images-idx3-ubyte.gz").exists()
    assert not list(folder.glob("*.part"))


def test_interrupted_download_leaves_no_partial_file(toy):
    files, tmp = toy
    with FileServer(files, truncate={"train-images-idx3-ubyte.gz"}) as server:
        data.DATASETS["toy"] = spec_for(files, mirrors=(server.url,))
        with pytest.raises(data.DatasetNotFoundError) as err:
            data.load("toy", "train")
    assert "train-images-idx3-ubyte.gz" in str(err.value)
    folder = tmp / "repo-data" / "toy"
    assert not (folder / "train-images-idx3-ubyte.gz").exists()
    assert [p.name for p in folder.iterdir() if not p.name.endswith((".lock", ".unreachable-mirrors.json"))] \
        in ([], ["train-labels-idx1-ubyte.gz"])


def test_two_processes_download_once_and_agree(toy):
    files, tmp = toy
    script = tmp / "loader.py"
    with FileServer(files, delay_s=0.5) as server:
        script.write_text(textwrap.dedent(f"""
            import sys, pathlib, hashlib
            sys.path.insert(0, {str(tmp.parent)!r})
            from labhelpers import data
            sys.path.insert(0, {str(__import__('pathlib').Path(__file__).parent)!r})
            from helpers import tiny_idx_dataset, spec_for
            data.DATA_DIR = pathlib.Path({str(tmp / 'repo-data')!r})
            data.SYSTEM_DIRS = []
            data.OFFLINE = False
            data.DATASETS["toy"] = spec_for(tiny_idx_dataset(), mirrors=({server.url!r},))
            x, y = data.load("toy", "train")
            print(hashlib.md5(x.numpy().tobytes()).hexdigest())
        """))
        procs = [subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0] == outs[1] and len(outs[0]) == 32
    assert server.requests["train-images-idx3-ubyte.gz"] == 1  # the second process waited on the lock
    assert not list((tmp / "repo-data" / "toy").glob("*.part"))


def test_corrupted_local_file_is_named_and_never_used(toy):
    files, tmp = toy
    broken = dict(files)
    broken["train-images-idx3-ubyte.gz"] = files["train-images-idx3-ubyte.gz"][:-40]  # truncated
    write_files(tmp / "repo-data" / "toy", broken)
    write_files(tmp / "system" / "toy", files)
    with pytest.raises(data.ChecksumError) as err:
        data.load("toy", "train")
    assert "train-images-idx3-ubyte.gz" in str(err.value) and "make data" in str(err.value)


def test_no_source_names_every_place_looked(toy):
    _, tmp = toy
    data.DATASETS["toy"] = spec_for(tiny_idx_dataset(), mirrors=("http://127.0.0.1:9/",))
    with pytest.raises(data.DatasetNotFoundError) as err:
        data.load("toy", "train")
    msg = str(err.value)
    assert str(tmp / "repo-data" / "toy") in msg and str(tmp / "system" / "toy") in msg
    assert "http://127.0.0.1:9/" in msg and "To fix" in msg


def test_offline_mode_skips_download(toy, monkeypatch):
    monkeypatch.setattr(data, "OFFLINE", True)
    with pytest.raises(data.DatasetNotFoundError, match="LAB_OFFLINE"):
        data.load("toy", "train")


def test_unknown_dataset_and_split_list_valid_ones():
    with pytest.raises(ValueError, match="valid names: mnist, fashion-mnist, svhn"):
        data.load("cifar")
    with pytest.raises(ValueError, match="valid splits: train, test"):
        data.load("mnist", "validation")


def test_non_idx_file_is_rejected(tmp_path):
    bad = tmp_path / "notes.gz"
    bad.write_bytes(gzip.compress(b"hello, this is not an IDX file"))
    with pytest.raises(data.IDXFormatError, match="not an IDX file"):
        data.read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(idx_bytes(np.zeros((4, 3, 3)))[:-5])
    with pytest.raises(data.IDXFormatError, match="truncated"):
        data.read_idx(short)


def test_read_idx_round_trip(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(a))
    assert np.array_equal(data.read_idx(tmp_path / "a"), a)


def test_mnist_falls_back_to_shipped_sample_with_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(data, "SYSTEM_DIRS", [tmp_path / "nothing"])
    monkeypatch.setattr(data, "OFFLINE", True)
    monkeypatch.setattr(data, "_announced", set())
    if (data.DATA_DIR / "mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("full MNIST is present in data/mnist")
    x, y = data.load("mnist", "train")
    xt, yt = data.load("mnist", "test")
    out = capsys.readouterr().out
    assert out.count("full MNIST not found; using the 5,000-digit sample in data/") == 1
    assert x.shape == (4000, 1, 28, 28) and xt.shape == (1000, 1, 28, 28)
    assert torch.equal(torch.bincount(y), torch.full((10,), 400))  # stratified split
    assert torch.equal(torch.bincount(yt), torch.full((10,), 100))


def test_batches_cover_every_sample_once():
    x = torch.arange(10).float().unsqueeze(1)
    y = torch.arange(10)
    seen = []
    for xb, yb in data.batches(x, y, batch_size=3, generator=torch.Generator().manual_seed(0)):
        assert torch.equal(xb.squeeze(1).long(), yb)  # pairs stay aligned
        seen += yb.tolist()
    assert sorted(seen) == list(range(10)) and seen != list(range(10))
    sizes = [len(b[0]) for b in data.batches(x, batch_size=4, shuffle=False)]
    assert sizes == [4, 4, 2]


def test_batches_seeded_and_checked():
    x = torch.arange(20)
    a = [b[0].tolist() for b in data.batches(x, batch_size=5, generator=torch.Generator().manual_seed(1))]
    b = [b[0].tolist() for b in data.batches(x, batch_size=5, generator=torch.Generator().manual_seed(1))]
    assert a == b
    with pytest.raises(ValueError, match="same first dimension"):
        next(data.batches(torch.zeros(3), torch.zeros(4)))
