"""Files: atomic ``.npz`` writes and pickle-free reads, with errors that name the file."""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import zipfile
from typing import NamedTuple

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


TEMP_PREFIX, TEMP_SUFFIX = ".tinynet-", ".tmp"   # hidden, and never the name of a real output


def atomic_write(path, write) -> str:
    """Call ``write(binary file)`` on a temporary file in ``path``'s folder, then ``os.replace`` it onto ``path``.

    A crash never leaves a half-written file under the real name: the file there is the previous one or the new
    one, complete (flushed and ``fsync``ed before the rename). A crash can leave an orphan ``.tinynet-*.tmp``
    beside it; a failure that Python sees (disk full, a file-size limit, Ctrl-C) removes it, and an ``OSError`` is
    raised again naming ``path``. The file gets the permissions a plain ``open`` would give (0o666 minus the
    umask), not mkstemp's 0o600. Returns ``path`` as a string.
    """
    path = output_path(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=folder)
    except OSError as exc:
        raise _write_error(exc, path) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):     # the original error is the one to report
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _write_error(exc, path) from exc
        raise
    _fsync_folder(folder)
    return path


def _write_error(exc: OSError, path: str) -> OSError:
    """``exc`` as the same kind of ``OSError`` (same errno), its message naming the file that was not written."""
    message = f"could not write {path!r}: {exc.strerror or exc}; the file already there, if any, is unchanged"
    return OSError(message) if exc.errno is None else OSError(exc.errno, message)


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


# -- reading: every .npz is untrusted input (docs/errors.md, "Files from elsewhere") ------------------------------
_MAX_MEMBERS = 100_000          # far more arrays than any model holds; the zip directory itself is read whole
_MAX_NPY_HEADER = 1 << 16       # magic, length and header of one .npy member (NumPy refuses headers over 10000)
_MAX_RANK = 32                  # dimensions of one array (NumPy allows 64)
_DEFLATE_MAX_RATIO = 1032       # deflate's limit: at best 258 bytes out of a 2-bit code
_READ_CHUNK = 1 << 20


class NpzError(ValueError):
    """An ``.npz`` file that cannot be read safely; the message names the file."""


class NpyMember(NamedTuple):
    """What one ``.npy`` member of an archive declares, from its header alone."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    header_bytes: int                   # magic, header length and header: the data starts here
    info: zipfile.ZipInfo

    @property
    def data_bytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def describe(self) -> str:
        return f"an array of shape {self.shape} and dtype {self.dtype}"


class _Bounded:
    """A read-only stream that hands out at most ``limit`` bytes of ``raw`` and counts what it handed out."""

    def __init__(self, raw, limit: int):
        self.raw, self.left, self.consumed = raw, limit, 0

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.raw.read(n) if n else b""
        self.left -= len(data)
        self.consumed += len(data)
        return data


class NpzReader:
    """An ``.npz`` archive opened for bounded reading: ``with NpzReader(path) as npz: ...``.

    Opening reads the zip directory and each member's ``.npy`` header, nothing more, and refuses members that are
    not ``.npy`` arrays, names that repeat, encrypted members, compression other than stored or deflate, object
    (pickled), structured or zero-size dtypes, more than 32 dimensions, and any member whose declared size is not
    exactly its header plus the array its header describes (or is beyond what deflate can produce from the stored
    bytes, or stores more than deflate needs for it). ``members`` then tells a caller every array's shape and dtype
    before any data is read; ``read(name)`` inflates exactly the declared bytes into an array of the declared
    shape. Every refusal is an :class:`NpzError` naming the file.
    """

    def __init__(self, path):
        self.path = _npz_path(path)
        self.where = f"path: {self.path!r}"
        try:
            self._zip = zipfile.ZipFile(self.path)
        except Exception as exc:  # BadZipFile, EOFError, OSError, ... on truncated or corrupt files
            raise self.error(f"is not a readable .npz archive (truncated or corrupt: {type(exc).__name__}: {exc})") \
                from None
        try:
            self.members = self._checked_members()
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> NpzReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    def error(self, what: str) -> NpzError:
        return NpzError(f"{self.where} {what}")

    @property
    def total_bytes(self) -> int:
        """What all members inflate to, as declared (and checked against their headers)."""
        return sum(m.info.file_size for m in self.members.values())

    # -- opening: the directory and the headers ---------------------------------------------------------------
    def _checked_members(self) -> dict[str, NpyMember]:
        infos = self._zip.infolist()
        if len(infos) > _MAX_MEMBERS:
            raise self.error(f"holds {len(infos)} members; a tinynet file holds at most {_MAX_MEMBERS}")
        seen = set()
        for info in infos:
            if info.filename in seen:
                raise self.error(f"holds two members named {info.filename!r}")
            seen.add(info.filename)
        members = {}
        for info in infos:
            self._check_entry(info)
            member = self._read_header(info)
            self._check_declared_size(member)
            members[member.name] = member
        return members

    def _check_entry(self, info: zipfile.ZipInfo) -> None:
        """The zip directory's word on one member: an unencrypted .npy, stored or deflated, sizes deflate allows."""
        name = info.filename
        if not name.endswith(".npy"):
            raise self.error(f"holds {name!r}, which is not an .npy array (an .npz holds only arrays)")
        if info.flag_bits & 0x1:
            raise self.error(f"holds an encrypted member {name!r}")
        if info.compress_type == zipfile.ZIP_STORED:
            if info.compress_size != info.file_size:
                raise self.error(f"declares {info.file_size} bytes for the stored member {name!r} but stores "
                                 f"{info.compress_size}")
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            if info.file_size > _DEFLATE_MAX_RATIO * info.compress_size:
                raise self.error(f"declares {info.file_size} bytes for {name!r}, more than deflate can produce from "
                                 f"the {info.compress_size} bytes stored (at most {_DEFLATE_MAX_RATIO} times as many)")
            if info.compress_size > 2 * info.file_size + 1024:       # deflate never doubles its input
                raise self.error(f"stores {info.compress_size} compressed bytes for {name!r}, far more than deflate "
                                 f"needs for the {info.file_size} bytes it declares")
        else:
            raise self.error(f"holds {name!r} compressed with zip method {info.compress_type}; expected stored (0) "
                             "or deflate (8), what NumPy writes")

    def _read_header(self, info: zipfile.ZipInfo) -> NpyMember:
        """The member's .npy header, read through a stream that stops after 64 KiB (the data is not read)."""
        name = info.filename
        try:
            with self._zip.open(info) as raw:
                stream = _Bounded(raw, min(info.file_size, _MAX_NPY_HEADER))
                version = np.lib.format.read_magic(stream)
                if version not in ((1, 0), (2, 0)):
                    raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran_order, dtype = read_header(stream)
        except Exception as exc:  # a corrupt zip entry, a bad magic or header: what parsing untrusted bytes raises
            raise self.error(f"holds {name!r}, whose .npy header is not readable ({type(exc).__name__}: "
                             f"{_one_line(exc)})") from None
        self._check_header(name, shape, dtype)
        return NpyMember(name[:-len(".npy")], tuple(shape), dtype, fortran_order, stream.consumed, info)

    def _check_header(self, name: str, shape, dtype: np.dtype) -> None:
        """Plain numbers or text (never objects: a pickle), at most 32 dimensions, none negative."""
        if dtype.hasobject:
            raise self.error(f"holds an object (pickled) array {name!r}; tinynet never unpickles files")
        if dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in "biufcU" \
                or dtype.itemsize == 0:
            raise self.error(f"holds {name!r} of dtype {dtype}; expected an array of numbers")
        if len(shape) > _MAX_RANK or any(isinstance(d, bool) or d < 0 for d in shape):
            raise self.error(f"holds {name!r} of shape {shape}; expected at most {_MAX_RANK} sizes >= 0")

    def _check_declared_size(self, member: NpyMember) -> None:
        """The zip's uncompressed size is exactly the header plus the array it describes: no more is inflated."""
        expected = member.header_bytes + member.data_bytes
        if member.info.file_size != expected:
            raise self.error(f"declares {member.info.file_size} bytes for {member.info.filename!r}, whose header "
                             f"describes {expected} ({member.describe()} after {member.header_bytes} bytes of "
                             "header)")

    # -- reading the data -------------------------------------------------------------------------------------
    def read(self, name: str) -> np.ndarray:
        """The array ``name``: its declared bytes inflated in 1 MiB pieces into an array of the declared shape."""
        member = self.members[name]
        out = np.empty(math.prod(member.shape), dtype=member.dtype)
        data = out.view(np.uint8)
        try:
            with self._zip.open(member.info) as raw:
                stream = _Bounded(raw, member.info.file_size)
                np.lib.format.read_magic(stream)                    # the header again, already checked
                stream.read(member.header_bytes - stream.consumed)
                filled = 0
                while filled < data.size:
                    piece = stream.read(min(_READ_CHUNK, data.size - filled))
                    if not piece:
                        raise EOFError(f"the data of {member.info.filename!r} ends after {filled} of "
                                       f"{data.size} bytes")
                    data[filled:filled + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
                    filled += len(piece)
                if raw.read(1):                                     # (the zip stops at the declared size)
                    raise ValueError(f"{member.info.filename!r} holds more data than it declares")
        except Exception as exc:  # BadZipFile (a CRC mismatch), zlib.error, EOFError, OSError on corrupt data
            raise self.error(f"is not a readable .npz archive ({type(exc).__name__}: {_one_line(exc)})") from None
        if member.fortran_order:
            return out.reshape(member.shape[::-1]).transpose()
        return out.reshape(member.shape)


def _npz_path(path) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a file path (str or os.PathLike), received {type(path).__name__}")
    path = os.fspath(path)
    if os.path.isdir(path):
        raise NpzError(f"path: expected an .npz file, received {path!r}, which is a folder")
    if not os.path.isfile(path):
        raise NpzError(f"path: expected an existing .npz file, received {path!r} (no such file)")
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            raise NpzError(f"path: {path!r} is not an .npz archive (no zip header)")
    return path


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


def read_npz(path) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file, each checked and read through a bounded stream (see :class:`NpzReader`);
    never unpickled; any failure is a ``ValueError`` naming the file."""
    with NpzReader(path) as npz:
        return {name: npz.read(name) for name in npz.members}
