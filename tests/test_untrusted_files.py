"""Files from elsewhere (docs/errors.md): a hostile model, weights or data file is refused with a ValueError before
anything it claims is allocated or inflated.

The memory cases load in a child process whose address space is capped (``RLIMIT_AS``) a little above what it
uses before loading, with a time limit: a loader that believed the file would die of ``MemoryError`` (or be
killed), not refuse it. Each case also loads an honest file under the same cap, so the cap is not what refuses.
"""

from __future__ import annotations

import copy
import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import tinynet
from tinynet import Sequential, regularizers
from tinynet.layers import Dense, Dropout, Normalization
from tinynet.losses import SparseCategoricalCrossentropy
from tinynet.optimizers import Adam

HEADROOM = 256 << 20          # what the child may allocate beyond its size after the imports
BOMB = 768 << 20              # what each bomb inflates to: three times the headroom


def model(units=8, seed=5):
    norm = Normalization(input_shape=(6,))
    norm.adapt(np.random.default_rng(1).standard_normal((30, 6)) * 2 + 1)
    m = Sequential([norm, Dense(units, activation="relu", kernel_regularizer=regularizers.L2(0.01)),
                    Dropout(0.25, seed=3), Dense(3)], seed=seed)
    m.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer=Adam(0.01), metrics=["accuracy"])
    return m


def data(n=40):
    rng = np.random.default_rng(2)
    return rng.standard_normal((n, 6)).astype(np.float32), rng.integers(0, 3, n)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A trained, compiled model saved with ``save`` (config, weights, Adam's moments, the shuffling state)."""
    m = model()
    m.fit(*data(), epochs=2, batch_size=8, verbose=0)
    path = tmp_path_factory.mktemp("saved") / "model.npz"
    m.save(path)
    return path


def members(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:          # our own file: trusted here
        return {k: npz[k] for k in npz.files}


def write_npz(path, arrays: dict) -> None:
    np.savez(path, **arrays)


def npy_bytes(shape, dtype, data: bytes) -> bytes:
    """A .npy member whose header claims ``shape`` and ``dtype``, followed by ``data`` (whatever its length)."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": np.dtype(dtype).str, "fortran_order": False,
                                               "shape": tuple(shape)})
    return out.getvalue() + data


CHILD = textwrap.dedent("""
    import resource, sys
    import numpy as np
    import tinynet
    from tinynet import datasets
    PATH = PATH_HERE
    def size():
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize"))
    cap = size() + HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
    CODE_HERE
    except ValueError as exc:
        print("ValueError:", " ".join(str(exc).split()))
    except MemoryError:
        print("MemoryError")
    else:
        print("loaded")
""")


def load_in_a_capped_child(code: str, path) -> str:
    """Run ``code`` (which loads ``PATH``) in a fresh Python whose address space may grow by ``HEADROOM`` only;
    return how it ended: ``ValueError: ...``, ``loaded``, ``MemoryError`` or the signal that killed it."""
    script = CHILD.replace("PATH_HERE", repr(os.fspath(path))).replace("HEADROOM", str(HEADROOM))
    script = script.replace("CODE_HERE", textwrap.indent(textwrap.dedent(code).strip(), "    "))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    if result.returncode < 0:
        return f"killed by signal {-result.returncode}"
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


LOAD_MODEL = "tinynet.load_model(PATH)"


def assert_refused(code: str, path, *fragments: str) -> None:
    """Loading ``path`` with ``code`` in the capped child ends in a ValueError whose message holds ``fragments``."""
    outcome = load_in_a_capped_child(code, path)
    assert outcome.startswith("ValueError:") and all(f in outcome for f in fragments), outcome


# -- a config that claims a huge model, with the small real arrays ---------------------------------------------
def test_a_config_claiming_a_billion_units_is_refused_before_any_allocation(saved, tmp_path):
    arrays = members(saved)
    config = json.loads(str(arrays["config.json"]))
    dense = [layer for layer in config["layers"] if layer["class_name"] == "Dense"][-1]
    dense["config"]["units"] = 10**9                         # the output layer: 29.8 GiB of kernel if believed
    hostile = tmp_path / "billion.npz"
    write_npz(hostile, {**arrays, "config.json": np.array(json.dumps(config))})

    assert load_in_a_capped_child(LOAD_MODEL, saved) == "loaded"          # the cap leaves room for an honest load
    assert_refused(LOAD_MODEL, hostile, "billion.npz", "expected an array of shape")


def test_headers_that_claim_the_huge_shapes_are_refused_from_the_zip_directory(saved, tmp_path):
    """The arrays' headers agree with a billion units, but the members hold the small arrays: the zip's sizes give
    the lie away before a byte of data is read."""
    arrays = members(saved)
    config = json.loads(str(arrays["config.json"]))
    dense = [layer for layer in config["layers"] if layer["class_name"] == "Dense"][-1]
    dense["config"]["units"] = 10**9
    kernel, bias = [k for k in arrays if k.endswith("/kernel") or k.endswith("/bias")][-2:]
    hostile = tmp_path / "lying_header.npz"
    with zipfile.ZipFile(hostile, "w") as zf:
        for name, array in {**arrays, "config.json": np.array(json.dumps(config))}.items():
            if name in (kernel, bias):
                claimed = (8, 10**9) if name == kernel else (10**9,)
                zf.writestr(name + ".npy", npy_bytes(claimed, array.dtype, array.tobytes()))
            else:
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, array, allow_pickle=False)
                zf.writestr(name + ".npy", buffer.getvalue())
    assert_refused(LOAD_MODEL, hostile, "declares", "whose header describes")


# -- decompression bombs: each inflates to three times what the child may allocate ---------------------------------
def deflated_zeros(size: int, wbits: int, prefix: bytes = b"") -> bytes:
    """``prefix`` then ``size`` zero bytes, compressed (wbits -15: raw deflate, 15: zlib, 31: gzip)."""
    packer = zlib.compressobj(1, wbits=wbits)
    pieces = [packer.compress(prefix)]
    chunk = bytes(1 << 20)
    for _ in range(size >> 20):
        pieces.append(packer.compress(chunk))
    return b"".join(pieces) + packer.flush()


def npz_bomb(path, name: str, shape, dtype) -> None:
    """An .npz whose member ``name`` is an honest .npy of ``shape`` zeros, deflated: a bomb of ``prod(shape)``
    bytes in a few MiB."""
    header = npy_bytes(shape, dtype, b"")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open(name, "w", force_zip64=True) as member:
            member.write(header)
            chunk = bytes(1 << 20)
            for _ in range(int(np.prod(shape)) * np.dtype(dtype).itemsize >> 20):
                member.write(chunk)


def test_a_weights_file_that_is_a_deflate_bomb_is_refused_without_inflating_it(saved, tmp_path):
    arrays = members(saved)
    kernel = next(k for k in arrays if k.endswith("dense/kernel"))
    bomb = tmp_path / "bomb.npz"
    npz_bomb(bomb, "weights/" + kernel.split("/", 1)[1] + ".npy", (BOMB // 4,), np.float32)
    assert os.path.getsize(bomb) < BOMB // 100

    honest = tmp_path / "honest.weights.npz"
    model().save_weights(honest)
    into_the_saved_model = f"tinynet.load_model({os.fspath(saved)!r}).load_weights(PATH)"
    assert load_in_a_capped_child(into_the_saved_model, honest) == "loaded"
    assert_refused(into_the_saved_model, bomb, "bomb.npz")
    assert_refused(LOAD_MODEL, bomb, "bomb.npz")


def test_a_member_that_inflates_past_its_header_is_refused_without_inflating_it(tmp_path):
    """The header claims a small array; the zip says (truthfully) the member inflates to hundreds of MiB."""
    bomb = tmp_path / "long.npz"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("config.json.npy", "w", force_zip64=True) as member:
            member.write(npy_bytes((), "<U10", b"x" * 40))
            chunk = bytes(1 << 20)
            for _ in range(BOMB >> 20):
                member.write(chunk)
    assert_refused(LOAD_MODEL, bomb, "whose header describes 168")


def mat_element(mdtype: int, payload: bytes) -> bytes:
    return struct.pack("<II", mdtype, len(payload)) + payload + bytes(-len(payload) % 8)


def test_a_mat_file_whose_compressed_element_is_a_bomb_is_refused_without_inflating_it(tmp_path):
    header = b"MATLAB 5.0 MAT-file, tinynet test".ljust(116) + bytes(8) + struct.pack("<H", 0x0100) + b"IM"
    honest = tmp_path / "honest.mat"
    from scipy.io import savemat
    savemat(honest, {"X": np.zeros((4, 400)), "y": np.arange(1, 5)[:, None]}, do_compression=True)
    # the element inside declares 64 bytes, then hundreds of MiB of zeros follow in the same zlib stream
    small_tag = struct.pack("<II", 14, 56)
    long_bomb = tmp_path / "long.mat"
    long_bomb.write_bytes(header + mat_element(15, deflated_zeros(BOMB, 15, small_tag)))
    # the element inside declares 2 GiB
    huge_tag = struct.pack("<II", 14, 2 << 30)
    claim_bomb = tmp_path / "claim.mat"
    claim_bomb.write_bytes(header + mat_element(15, deflated_zeros(BOMB, 15, huge_tag)))

    code = "datasets.load_ex3data1(PATH)"
    assert load_in_a_capped_child(code, honest) == "loaded"
    assert_refused(code, long_bomb, "does not end after the 64 bytes")
    assert_refused(code, claim_bomb, "inflates to 2147483656 bytes")


def idx(magic: int, dims: tuple) -> bytes:
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)


def test_a_gzip_idx_file_that_is_a_bomb_is_refused_at_its_declared_end(tmp_path):
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    labels.write_bytes(idx(2049, (2,)) + bytes(2))
    honest = tmp_path / "t10k-images-idx3-ubyte.gz"
    honest.write_bytes(deflated_zeros(0, 31, idx(2051, (2, 20, 20)) + bytes(800)))
    bomb = tmp_path / "bomb-images-idx3-ubyte.gz"
    bomb.write_bytes(deflated_zeros(BOMB, 31, idx(2051, (2, 20, 20))))      # 800 bytes claimed, 768 MiB held
    claim = tmp_path / "claim-images-idx3-ubyte.gz"
    claim.write_bytes(deflated_zeros(BOMB, 31, idx(2051, (2**31, 2**10, 2**10))))

    code = f"datasets.load_mnist_idx(PATH, {str(labels)!r})"
    assert load_in_a_capped_child(code, honest) == "loaded"
    assert_refused(code, bomb, "longer than its header says")
    assert_refused(code, claim, "refusing to read more than")


# -- hypothesis: random edits of a real saved file -------------------------------------------------------------
MUTATIONS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                                HealthCheck.too_slow])
LOAD_BUDGET = 16 << 20        # bytes the loader may allocate for this 3 KiB model, whatever the file says


def leaves(value, path=()):
    """Every position in a JSON value: ``(path, value)`` for dict entries and list items, nested."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield path + (key,), child
        yield from leaves(child, path + (key,))


def replaced(config, path, new):
    config = copy.deepcopy(config)
    target = config
    for key in path[:-1]:
        target = target[key]
    if new is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = new
    return config


DELETE = object()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.sampled_from([0, 1, -1, 10**9, 2**63, 2**64])
    | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([0.0, -0.0, 1e-300, 1e300, 0.5])
    | st.text(max_size=12) | st.sampled_from(["relu", "Dense", "float16", "int32", "complex64", "glorot_uniform"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8)


def outcome_of_loading(path):
    """``("refused", message)`` or ``("loaded", model)``, with the peak bytes allocated while loading. Any
    exception but ``ValueError`` fails the test."""
    tracemalloc.start()
    try:
        loaded = ("loaded", tinynet.load_model(path))
    except ValueError as exc:
        loaded = ("refused", str(exc))
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < LOAD_BUDGET, f"loading allocated {peak} bytes"
    return loaded


def assert_a_valid_model(m, tmp_path):
    """What loads is a working model: it predicts, and saving and loading it again gives it back exactly."""
    x, _ = data(5)
    assert m.predict(x, verbose=0).shape[0] == 5
    again = tmp_path / "again.npz"
    m.save(again)
    back = tinynet.load_model(again)
    assert back.get_config() == m.get_config()
    for a, b in zip(m.get_weights(), back.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def loads_a_valid_model_or_is_refused(mutated, tmp_path) -> None:
    """The one outcome allowed for an edited file: a working model, or a ValueError naming the file."""
    kind, result = outcome_of_loading(mutated)
    event(kind)
    if kind == "loaded":
        assert_a_valid_model(result, tmp_path)
    else:
        assert mutated.name in result


@MUTATIONS
@given(data=st.data())
def test_any_edit_of_the_config_loads_a_valid_model_or_is_a_value_error(saved, tmp_path, data):
    arrays = members(saved)
    config = json.loads(str(arrays["config.json"]))
    edits = data.draw(st.integers(1, 3))
    for _ in range(edits):
        spots = list(leaves(config))
        path, _ = data.draw(st.sampled_from(spots))
        how = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if how == "add":
            parent = config
            for key in path[:-1]:
                parent = parent[key]
            if isinstance(parent, dict):
                path = path[:-1] + (data.draw(st.text(max_size=10)),)
            how = "replace"
        config = replaced(config, path, DELETE if how == "delete" else data.draw(json_values))
    mutated = tmp_path / "config_edit.npz"
    write_npz(mutated, {**arrays, "config.json": np.array(json.dumps(config))})
    loads_a_valid_model_or_is_refused(mutated, tmp_path)


dtypes = st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint64, np.bool_,
                          np.complex64, np.complex128, "<U3", ">f4", ">f8", ">i8"])


@MUTATIONS
@given(data=st.data())
def test_any_edit_of_the_arrays_loads_a_valid_model_or_is_a_value_error(saved, tmp_path, data):
    arrays = members(saved)
    names = sorted(arrays)
    name = data.draw(st.sampled_from(names))
    how = data.draw(st.sampled_from(["shape", "dtype", "extra dimension", "drop", "add", "values", "transpose"]))
    array = arrays[name]
    if how == "shape":
        shape = data.draw(st.lists(st.integers(0, 9), max_size=3).map(tuple))
        arrays[name] = np.zeros(shape, array.dtype)
    elif how == "dtype":
        arrays[name] = np.zeros(array.shape, data.draw(dtypes)) if array.dtype.kind != "U" else np.zeros(3)
    elif how == "extra dimension":
        arrays[name] = array[None] if data.draw(st.booleans()) else array[..., None]
    elif how == "drop":
        del arrays[name]
    elif how == "add":
        arrays[data.draw(st.text(min_size=1, max_size=20).filter(lambda s: "\0" not in s))] = np.zeros(2)
    elif how == "values" and array.dtype.kind in "fi" and array.size:
        flat = array.ravel().copy()
        odd = [np.nan, np.inf, -np.inf, -1, 0, 1e30] if array.dtype.kind == "f" else [-1, 0, 2**62, -(2**62)]
        flat[data.draw(st.integers(0, flat.size - 1))] = data.draw(st.sampled_from(odd))
        arrays[name] = flat.reshape(array.shape)
    elif how == "transpose" and array.ndim == 2:
        arrays[name] = np.asfortranarray(array) if data.draw(st.booleans()) else array.T.copy()
    mutated = tmp_path / "array_edit.npz"
    write_npz(mutated, arrays)
    loads_a_valid_model_or_is_refused(mutated, tmp_path)


@MUTATIONS
@given(data=st.data())
def test_any_byte_edit_of_the_file_loads_a_valid_model_or_is_a_value_error(saved, tmp_path, data):
    raw = bytearray(saved.read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        # half the edits land in the first 1 KiB: the zip headers, config.json's .npy header and the config
        at = data.draw(st.integers(0, 1023) | st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[:data.draw(st.integers(0, len(raw)))] if data.draw(st.booleans()) else raw + bytes(10)
    mutated = tmp_path / "byte_edit.npz"
    mutated.write_bytes(bytes(raw))
    loads_a_valid_model_or_is_refused(mutated, tmp_path)
