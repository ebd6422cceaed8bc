"""Small builders shared by the tests: IDX files, dataset specs and a local HTTP server."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import struct
import threading
from pathlib import Path

import numpy as np

from labhelpers.data import DatasetSpec, FileSpec


def idx_bytes(array: np.ndarray) -> bytes:
    """Raw IDX bytes of a uint8 array."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def tiny_idx_dataset(n: int = 12, seed: int = 0) -> dict[str, bytes]:
    """Gzipped IDX files of a tiny 8x8 dataset, keyed by file name, for train and test."""
    rng = np.random.default_rng(seed)
    files = {}
    for prefix in ("train", "t10k"):
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(rng.integers(0, 256, (n, 8, 8))), mtime=0)
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(rng.integers(0, 10, n)), mtime=0)
    return files


def spec_for(files: dict[str, bytes], folder: str = "toy", mirrors: tuple[str, ...] = ()) -> DatasetSpec:
    """A DatasetSpec whose checksums are those of `files`."""
    def fs(name):
        return FileSpec(name, md5=hashlib.md5(files[name]).hexdigest())
    return DatasetSpec(folder=folder, format="idx",
                       files={"train": (fs("train-images-idx3-ubyte.gz"), fs("train-labels-idx1-ubyte.gz")),
                              "test": (fs("t10k-images-idx3-ubyte.gz"), fs("t10k-labels-idx1-ubyte.gz"))},
                       mirrors=mirrors, install_hint="copy the toy files")


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)


class FileServer:
    """An HTTP server on 127.0.0.1 serving `files` from memory, counting requests per path.

    `truncate` names files that are sent with their full Content-Length but cut off halfway,
    like a dropped connection.
    """

    def __init__(self, files: dict[str, bytes], truncate: set[str] = frozenset(), delay_s: float = 0.0):
        self.files, self.truncate, self.delay_s = files, set(truncate), delay_s
        self.requests: dict[str, int] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                server.requests[name] = server.requests.get(name, 0) + 1
                if name not in server.files:
                    self.send_error(404)
                    return
                body = server.files[name]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.delay_s:
                    import time
                    time.sleep(server.delay_s)
                self.wfile.write(body[: len(body) // 2] if name in server.truncate else body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
