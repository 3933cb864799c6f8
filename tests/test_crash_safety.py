"""Crash-safe saving: whatever stops a save (SIGKILL at any moment, a full disk, a file-size limit, a failed write
or rename), the file under the real name is a complete earlier save, and an ordinary failure leaves no temporary
file behind.

The kills run in children forked from a ``forkserver`` that has tinynet imported already, so each of the many kills
costs milliseconds, not an interpreter start; one test also kills the real ``python -m tinynet train``.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import hashlib
import io
import itertools
import json
import multiprocessing
import os
import random
import resource
import signal
import stat
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
import scipy.io

import tinynet
from tinynet import cli
from tinynet._io import atomic_write
from tinynet.callbacks import Callback, ModelCheckpoint
from tinynet.layers import Dense

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL") or sys.platform == "win32",
                                reason="POSIX processes, signals and rlimits")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMP_PATTERN = ".tinynet-*.tmp"            # what atomic_write names its temporary files
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"    # the IEND chunk: length 0, type, CRC; a complete PNG ends with it
KILLS = 40
STARTUP_LIMIT = 120.0                      # seconds a child may take to finish its first save (a hang, not a timing)


# -- models and their fingerprints -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def states(tmp_path_factory):
    """Two models of one architecture (about 100k parameters, so a save takes milliseconds) in different states
    (other weights, Adam's moments after one and two epochs, other shuffling states), and a file of each."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 128)), rng.integers(0, 10, 64)
    folder = tmp_path_factory.mktemp("states")
    models, refs = [], []
    for seed, epochs in ((1, 1), (2, 2)):
        model = tinynet.Sequential([Dense(256, activation="relu", input_shape=(128,)), Dense(256, activation="relu"),
                                    Dense(10)], seed=seed)
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
        model.fit(x, y, epochs=epochs, batch_size=16, verbose=0)
        models.append(model)
        refs.append(str(folder / f"state{seed}.npz"))
        model.save(refs[-1])
    return models, refs


def fingerprint(model, weights_only: bool = False) -> str:
    """A digest of what ``save`` writes (config, weights, optimizer and generator state), or of the weights only."""
    digest = hashlib.sha256()
    arrays = list(model.get_weights())
    if not weights_only:
        digest.update(json.dumps(model.get_config(), sort_keys=True).encode())
        digest.update(json.dumps(model.rng.bit_generator.state, sort_keys=True, default=np.ndarray.tolist).encode())
        state = model.optimizer.get_state()
        arrays += [np.asarray(state[key]) for key in sorted(state)]
    for array in arrays:
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def save(model, path, kind: str) -> None:
    if kind == "save":
        model.save(path)
    else:
        model.save_weights(path)


def loaded_fingerprint(path, kind: str, ref) -> str:
    """Load ``path`` completely (``load_model``, or ``load_weights`` into the model saved in ``ref``), then
    fingerprint what was loaded."""
    if kind == "save":
        return fingerprint(tinynet.load_model(path))
    model = tinynet.load_model(ref)
    model.load_weights(path)
    return fingerprint(model, weights_only=True)


def entries(folder) -> tuple[list[str], list[str]]:
    """``(real files, temporary files)`` in ``folder``."""
    names = sorted(os.listdir(folder))
    temporary = [n for n in names if fnmatch.fnmatch(n, TEMP_PATTERN)]
    return [n for n in names if n not in temporary], temporary


# -- children, killed ---------------------------------------------------------------------------------------
def forkserver():
    """A multiprocessing context whose children fork from a server with this module (so tinynet) imported."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def kill_repeatedly(child_main, args, kills: int, max_delay: float, check, wait_for_first_save: bool = True):
    """``kills`` times: start ``child_main(*args, saved)`` in a fresh child; once it has set ``saved`` (a save
    completed; skipped when not ``wait_for_first_save``), let it run a random while, SIGKILL it, then ``check()``."""
    context = forkserver()
    delays = random.Random(14)
    for _ in range(kills):
        saved = context.Event()
        child = context.Process(target=child_main, args=(*args, saved), daemon=True)
        child.start()
        try:
            deadline = time.monotonic() + STARTUP_LIMIT
            while wait_for_first_save and not saved.wait(0.01):
                assert child.is_alive(), f"the child died before its first save (exit code {child.exitcode})"
                assert time.monotonic() < deadline, "the child never finished its first save"
            time.sleep(delays.uniform(0, max_delay))
        finally:
            child.kill()
            child.join()
        assert child.exitcode == -signal.SIGKILL, f"the child ended by itself (exit code {child.exitcode})"
        check()


def skip_fsync():
    """In a child about to be killed. A SIGKILL keeps what was written (it is in the kernel's page cache), so the
    fsync, there for power cuts, cannot be tested by it; on a busy disk it is most of a save. Without it, the kills
    land in the writing and the renaming, where a save that is not atomic leaves a half file. (The fsync is
    checked by ``test_the_data_is_fsynced_before_the_rename_and_the_folder_after``.)"""
    os.fsync = lambda fd: None


def save_in_turn(kind, refs, path, saved):
    """Child: save the two reference models to ``path`` in turn (``save`` or ``save_weights``) until killed."""
    skip_fsync()
    models = [tinynet.load_model(ref) for ref in refs]
    for i in itertools.count():
        save(models[i % 2], path, kind)
        if i == 0:
            saved.set()


class Fingerprints(Callback):
    """Appends, after each step and before the checkpoints write it, the fingerprints of the model's state."""

    def __init__(self, log_path):
        self.log_path = log_path

    def on_train_batch_end(self, batch, logs=None):
        line = f"{fingerprint(self.model)} {fingerprint(self.model, weights_only=True)}\n"
        with open(self.log_path, "a") as log:
            log.write(line)


class SetAfterFirstStep(Callback):
    def __init__(self, event):
        self.event = event

    def on_train_batch_end(self, batch, logs=None):
        if not self.event.is_set():
            self.event.set()


def fit_with_checkpoints(ref, model_path, weights_path, log_path, saved):
    """Child: train with two ``ModelCheckpoint(save_freq=1)`` (whole model, weights only) until killed."""
    skip_fsync()
    model = tinynet.load_model(ref)
    rng = np.random.default_rng(os.getpid())
    x, y = rng.standard_normal((64, 128)), rng.integers(0, 10, 64)
    model.fit(x, y, batch_size=16, epochs=10**6, verbose=0,
              callbacks=[Fingerprints(log_path), ModelCheckpoint(model_path, save_freq=1),
                         ModelCheckpoint(weights_path, save_freq=1, save_weights_only=True), SetAfterFirstStep(saved)])


def train_command_in_turn(data_path, out, saved):
    """Child: ``tinynet train --out out`` again and again (seeds 0 and 1 in turn) until killed."""
    skip_fsync()
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        for i in itertools.count():
            code = cli.main(["train", "--data", data_path, "--epochs", "2", "--seed", str(i % 2), "--out", out])
            if code != 0:
                raise SystemExit(code)
            saved.set()


# -- SIGKILL at random moments ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["save", "save_weights"])
def test_a_save_killed_at_any_moment_leaves_one_complete_earlier_save(tmp_path, states, kind):
    (a, b), refs = states
    expected = {fingerprint(m, weights_only=kind == "save_weights"): name for m, name in ((a, "a"), (b, "b"))}
    assert len(expected) == 2
    run = tmp_path / "run"
    run.mkdir()
    path = run / "model.npz"
    found = []

    def check():
        assert entries(run)[0] == ["model.npz"]          # orphans never take the real name
        got = loaded_fingerprint(path, kind, refs[0])
        assert got in expected, f"{path} loads, but as neither saved state"
        found.append(expected[got])

    kill_repeatedly(save_in_turn, (kind, refs, str(path)), KILLS, max_delay=0.05, check=check)
    _, temporary = entries(run)
    assert set(found) == {"a", "b"}, f"every kill found the same state: {found}"     # the file was being replaced
    assert 0 < len(temporary) <= KILLS, "no kill landed mid-save (no orphan temporary file)"


def test_model_checkpoint_killed_at_any_moment_leaves_complete_checkpoints(tmp_path, states):
    _, (ref, _) = states
    run = tmp_path / "run"
    run.mkdir()
    model_path, weights_path, log_path = run / "ckpt.npz", run / "ckpt.weights.npz", tmp_path / "fingerprints.txt"

    def check():
        real, _ = entries(run)
        assert real == ["ckpt.npz", "ckpt.weights.npz"]
        with open(log_path) as log:
            lines = [line.split() for line in log if line.endswith("\n")]
        assert fingerprint(tinynet.load_model(model_path)) in {full for full, _ in lines}
        assert loaded_fingerprint(weights_path, "save_weights", ref) in {weights for _, weights in lines}

    kill_repeatedly(fit_with_checkpoints, (ref, str(model_path), str(weights_path), str(log_path)), KILLS,
                    max_delay=0.1, check=check)
    _, temporary = entries(run)
    assert 0 < len(temporary) <= KILLS, "no kill landed mid-save (no orphan temporary file)"


def write_toy_digits(path, per_class=20, side=20):
    """A small ex3data1-layout file: class c has a bright bar at row 2 + c, plus noise."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), per_class)
    images = rng.random((len(labels), side, side)) * 0.3
    images[np.arange(len(labels)), 2 + labels, 3:side - 3] = 1.0
    X = images.transpose(0, 2, 1).reshape(len(labels), side * side)
    scipy.io.savemat(path, {"X": X, "y": np.where(labels == 0, 10, labels).astype(np.uint8).reshape(-1, 1)})
    return str(path)


def assert_cli_outputs_complete(out) -> list[str]:
    """Every file of ``tinynet train`` present in ``out`` is complete; return the temporary files."""
    real, temporary = entries(out)
    for name in real:
        path = os.path.join(out, name)
        if name.endswith(".json"):
            with open(path) as fh:
                assert json.load(fh)["command"] == "train"
        elif name.endswith(".npz"):
            cli.seed_model(400).load_weights(path)
        else:
            assert name.endswith(".png"), f"unexpected file {path}"
            with open(path, "rb") as fh:
                data = fh.read()
            complete = data.startswith(PNG_SIGNATURE) and data.endswith(PNG_END)
            assert complete, f"{path} is a truncated PNG ({len(data)} bytes)"
    return temporary


def test_the_train_command_killed_at_any_moment_leaves_only_complete_files(tmp_path):
    data = write_toy_digits(tmp_path / "digits.mat")
    out = tmp_path / "out"
    started = time.monotonic()
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        assert cli.main(["train", "--data", data, "--epochs", "2", "--out", str(out)]) == 0
    one_run = time.monotonic() - started          # only to spread the kills over a whole run, never asserted
    outputs = entries(out)[0]
    assert {"weights.npz", "metrics.json", "curves.png"} <= set(outputs)
    orphans = []

    def check():
        orphans[:] = assert_cli_outputs_complete(out)
        assert entries(out)[0] == outputs                 # a kill never removes an earlier run's file

    # Children fork ready to run: killed at a random moment of their first or second run, most land in the
    # figures (rendered straight into their temporary files).
    kill_repeatedly(train_command_in_turn, (data, str(out)), 12, max_delay=one_run, check=check,
                    wait_for_first_save=False)
    assert len(orphans) > 0, "no kill landed mid-write (no orphan temporary file)"


def test_python_m_tinynet_train_killed_while_writing_leaves_only_complete_files(tmp_path):
    data = write_toy_digits(tmp_path / "digits.mat")
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    delays = random.Random(15)
    for attempt in range(2):
        out = tmp_path / f"out{attempt}"
        proc = subprocess.Popen([sys.executable, "-m", "tinynet", "train", "--data", data, "--epochs", "2",
                                 "--out", str(out)], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + STARTUP_LIMIT
            while not (out.is_dir() and os.listdir(out)):          # the outputs are being written
                assert proc.poll() is None, f"tinynet train ended before writing (exit code {proc.returncode})"
                assert time.monotonic() < deadline, "tinynet train never started writing"
                time.sleep(0.005)
            time.sleep(delays.uniform(0, 1.0))
        finally:
            proc.kill()
            proc.wait()
        assert_cli_outputs_complete(out)


# -- a full disk or a file-size limit -------------------------------------------------------------------------
def save_under_a_file_size_limit(kind, ref, path, limit, report):
    """Child: save under ``RLIMIT_FSIZE = limit`` bytes; send what was raised."""
    model = tinynet.load_model(ref)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)        # so the write fails with EFBIG instead of killing us
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    try:
        save(model, path, kind)
    except OSError as exc:
        report.send((type(exc).__name__, exc.errno, str(exc)))
    else:
        report.send(None)


@pytest.mark.parametrize("kind", ["save", "save_weights"])
def test_a_file_size_limit_mid_save_raises_an_oserror_naming_the_path(tmp_path, states, kind):
    (a, _), refs = states
    run = tmp_path / "run"
    run.mkdir()
    path = run / "model.npz"
    save(a, path, kind)
    before = path.read_bytes()
    context = forkserver()
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=save_under_a_file_size_limit,
                            args=(kind, refs[1], str(path), len(before) // 2, send))
    child.start()
    child.join()
    assert child.exitcode == 0
    outcome = receive.recv()
    assert outcome is not None, "the save succeeded under a file-size limit of half its size"
    name, code, message = outcome
    assert (name, code) == ("OSError", errno.EFBIG)
    assert repr(str(path)) in message and "File too large" in message
    unchanged = path.read_bytes() == before        # a bool: pytest would diff megabytes of bytes, for minutes
    assert unchanged, f"{path}: the previous file changed"
    assert loaded_fingerprint(path, kind, refs[0]) == fingerprint(a, weights_only=kind == "save_weights")
    assert entries(run) == (["model.npz"], [])


# -- failures injected in-process ---------------------------------------------------------------------------
def fail(exc):
    def raise_it(*args, **kwargs):
        raise exc
    return raise_it


def savez_half_then(exc):
    """An ``np.savez`` that writes the first half of the real archive, then raises ``exc`` (the disk is full)."""
    real_savez = np.savez

    def savez(file, *args, **arrays):
        buffer = io.BytesIO()
        real_savez(buffer, *args, **arrays)
        file.write(buffer.getvalue()[:len(buffer.getvalue()) // 2])
        raise exc
    return savez


@pytest.mark.parametrize("stage", ["create", "write", "fsync", "replace"])
@pytest.mark.parametrize("kind", ["save", "save_weights"])
def test_a_failing_save_keeps_the_previous_file_and_leaves_no_temporary_file(tmp_path, monkeypatch, states, kind,
                                                                            stage):
    (a, b), refs = states
    path = tmp_path / "model.npz"
    save(a, path, kind)
    before = path.read_bytes()
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if stage == "create":
        monkeypatch.setattr(tempfile, "mkstemp", fail(full))
    elif stage == "write":
        monkeypatch.setattr(np, "savez", savez_half_then(full))
    elif stage == "fsync":
        monkeypatch.setattr(os, "fsync", fail(OSError(errno.EIO, os.strerror(errno.EIO))))
    else:
        monkeypatch.setattr(os, "replace", fail(OSError(errno.EXDEV, os.strerror(errno.EXDEV))))
    with pytest.raises(OSError) as info:
        save(b, path, kind)
    monkeypatch.undo()
    assert info.value.errno == {"fsync": errno.EIO, "replace": errno.EXDEV}.get(stage, errno.ENOSPC)
    assert f"could not write {str(path)!r}" in str(info.value)
    unchanged = path.read_bytes() == before        # a bool: pytest would diff megabytes of bytes, for minutes
    assert unchanged, f"{path}: the previous file changed"
    assert loaded_fingerprint(path, kind, refs[0]) == fingerprint(a, weights_only=kind == "save_weights")
    assert entries(tmp_path) == (["model.npz"], [])


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), ValueError("not an OSError")], ids=["ctrl-c", "ValueError"])
def test_an_interrupted_write_propagates_unchanged_and_cleans_up(tmp_path, exc):
    path = tmp_path / "notes.txt"
    atomic_write(path, lambda fh: fh.write(b"previous\n"))

    def write(fh):
        fh.write(b"half of the n")
        raise exc

    with pytest.raises(type(exc)) as info:
        atomic_write(path, write)
    assert info.value is exc
    assert path.read_bytes() == b"previous\n"
    assert entries(tmp_path) == (["notes.txt"], [])


def test_the_data_is_fsynced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        info = os.fstat(fd)
        calls.append(("fsync", info.st_ino, info.st_size if stat.S_ISREG(info.st_mode) else "folder"))
        real_fsync(fd)

    def replace(src, dst):
        calls.append(("replace", os.stat(src).st_ino, os.fspath(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    path = tmp_path / "notes.txt"
    atomic_write(path, lambda fh: fh.write(b"12345"))
    file, folder = os.stat(path).st_ino, os.stat(tmp_path).st_ino
    assert calls == [("fsync", file, 5), ("replace", file, str(path)), ("fsync", folder, "folder")]


def test_successful_saves_leave_no_temporary_files(tmp_path, states):
    (a, b), _ = states
    for i in range(20):
        save((a, b)[i % 2], tmp_path / "model.npz", "save")
        save((a, b)[i % 2], tmp_path / "weights.npz", "save_weights")
        atomic_write(tmp_path / "notes.txt", lambda fh, i=i: fh.write(f"{i}\n".encode()))
    assert entries(tmp_path) == (["model.npz", "notes.txt", "weights.npz"], [])
    assert (tmp_path / "notes.txt").read_bytes() == b"19\n"
