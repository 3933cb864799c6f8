"""Files: atomic ``.npz`` writes and pickle-free reads, with errors that name the file."""

from __future__ import annotations

import os
import tempfile

import numpy as np


def atomic_savez(path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` to a temporary file in the target folder, then ``os.replace`` onto ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"path: expected a file in an existing folder, received {path!r} ({folder!r} does not "
                         "exist)")
    fd, tmp = tempfile.mkstemp(prefix=".tinynet-", suffix=".npz.tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_npz(path) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file, read with ``allow_pickle=False``; any failure is a ``ValueError``."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"path: expected an existing .npz file, received {path!r} (no such file)")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError("not an .npz archive")
            return {name: data[name] for name in data.files}
    except ValueError as exc:
        raise ValueError(f"path: {path!r} is not a readable tinynet weights file ({exc})") from exc
    except Exception as exc:  # zipfile.BadZipFile, EOFError, OSError on truncated or foreign files
        raise ValueError(f"path: {path!r} is not a readable tinynet weights file "
                         f"({type(exc).__name__}: {exc})") from exc
