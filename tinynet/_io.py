"""Files: atomic ``.npz`` writes and pickle-free reads, with errors that name the file."""

from __future__ import annotations

import os
import tempfile

import numpy as np


def output_path(path, name: str = "path") -> str:
    """``path`` as a string, checked to name a file in an existing folder (before anything is computed)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a file path (str or os.PathLike), received {type(path).__name__}")
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"{name}: expected a file path, received {path!r}, which is a folder")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{name}: expected a file in an existing folder, received {path!r} ({folder!r} does not "
                         "exist)")
    return path


def atomic_write(path, write) -> str:
    """Call ``write(binary file)`` on a temporary file in ``path``'s folder, then ``os.replace`` it onto ``path``.

    A crash never leaves a half-written file under the real name. The file gets the permissions a plain ``open``
    would give (0o666 minus the umask), not mkstemp's 0o600. Returns ``path`` as a string.
    """
    path = output_path(path)
    fd, tmp = tempfile.mkstemp(prefix=".tinynet-", suffix=".tmp", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_folder(os.path.dirname(os.path.abspath(path)))
    return path


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders can't be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_umask() -> int:
    mask = os.umask(0o022)   # the only way to read the umask is to set it; put it straight back
    os.umask(mask)
    return mask


_UMASK = _read_umask()       # read once, at import, so no later write races other threads on the umask


def atomic_savez(path, arrays: dict[str, np.ndarray]) -> str:
    """``np.savez`` written atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda fh: np.savez(fh, **arrays))


def read_npz(path) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file, read with ``allow_pickle=False``; any failure is a ``ValueError`` naming it."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a file path (str or os.PathLike), received {type(path).__name__}")
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"path: expected an .npz file, received {path!r}, which is a folder")
    if not os.path.isfile(path):
        raise ValueError(f"path: expected an existing .npz file, received {path!r} (no such file)")
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            raise ValueError(f"path: {path!r} is not an .npz archive (no zip header)")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ValueError(f"path: {path!r} holds an object (pickled) array; tinynet never unpickles files") \
                from None
        raise ValueError(f"path: {path!r} is not a readable .npz archive ({exc})") from None
    except Exception as exc:  # zipfile.BadZipFile, EOFError, OSError on truncated or corrupt files
        raise ValueError(f"path: {path!r} is not a readable .npz archive (truncated or corrupt: "
                         f"{type(exc).__name__}: {exc})") from None
