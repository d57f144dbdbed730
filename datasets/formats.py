"""Readers for the on-disk formats the datasets ship in: IDX, CIFAR-10 python batches, CIFAR-10 JPEG tar."""

from __future__ import annotations

import gzip
import pickle
import tarfile
from pathlib import Path

import cv2
import numpy as np

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32, 0x0D: np.float32, 0x0E: np.float64}


class CorruptDataError(ValueError):
    """A data file exists but cannot be decoded."""


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, lists, dicts, bytes, str and numbers only: a crafted file in the data directory
    cannot name any other callable (os.system, eval, ...), so loading it runs no code."""

    ALLOWED = frozenset({("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
                         ("numpy._core.multiarray", "_reconstruct"), ("_codecs", "encode")})

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a CIFAR-10 batch holds only arrays")
        return super().find_class(module, name)


def read_npy_array(handle: object, available: int, source: str) -> np.ndarray:
    """One `.npy` array from an open binary `handle` holding `available` bytes: its header is read first and an
    array that claims more bytes than there are (a crafted or torn file) is refused before anything is allocated;
    object arrays (pickles) are refused."""
    try:
        version = np.lib.format.read_magic(handle)
        readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in readers:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, fortran_order, dtype = readers[version](handle)
        header_end = handle.tell()
    except (ValueError, OSError, EOFError, TypeError) as error:
        words = str(error)
        if "max_header_size" in words:  # numpy's advice names options sweeplab does not have (one of them unsafe)
            words = "its header is larger than numpy reads safely (10,000 bytes); save the array again with np.save"
        raise CorruptDataError(f"{source}: not a readable .npy array ({words})") from None
    if not all(type(side) is int and side >= 0 for side in shape):  # numpy's header reader lets `True` through
        raise CorruptDataError(f"{source}: not a readable .npy array (shape {shape!r}: expected whole numbers >= 0)")
    if dtype.hasobject:
        raise CorruptDataError(f"{source}: holds Python objects; expected a numeric array")
    claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if claimed != available - header_end:
        raise CorruptDataError(f"{source}: its header claims {shape} {dtype} ({claimed} bytes) but the file holds "
                               f"{available - header_end} bytes of data")
    array = np.frombuffer(handle.read(claimed), dtype=dtype) if claimed else np.empty(0, dtype=dtype)
    order = "F" if fortran_order else "C"
    return array.reshape(shape, order=order).copy()


def load_array_pickle(handle: object) -> object:
    """`pickle.load` restricted to plain data and numpy arrays (see `_ArrayUnpickler`)."""
    return _ArrayUnpickler(handle, encoding="bytes").load()


def read_idx(path: Path) -> np.ndarray:
    """Read one (optionally gzipped) IDX file as a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as error:
        raise CorruptDataError(f"{path}: cannot read ({error})") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise CorruptDataError(f"{path}: not an IDX file (bad magic number)")
    dtype, ndim = np.dtype(IDX_DTYPES[raw[2]]).newbyteorder(">"), raw[3]
    header_size = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header_size != expected:
        found = len(raw) - header_size
        raise CorruptDataError(f"{path}: expected {expected} data bytes for shape {shape}, found {found}")
    return np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx_dataset(directory: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read the four standard (M)NIST-style IDX files from a directory."""
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    arrays = []
    for name in names:
        candidates = [directory / f"{name}.gz", directory / name]
        path = next((candidate for candidate in candidates if candidate.exists()), None)
        if path is None:
            raise FileNotFoundError(f"{directory / name}.gz")
        arrays.append(read_idx(path))
    x_train, y_train, x_test, y_test = arrays
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise CorruptDataError(f"{directory}: image and label counts differ")
    return x_train[..., None], y_train.astype(np.int64), x_test[..., None], y_test.astype(np.int64)


def read_cifar_batches(directory: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read CIFAR-10's official python pickles (`cifar-10-batches-py`)."""

    def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
        if not path.exists():
            raise FileNotFoundError(str(path))
        try:
            with open(path, "rb") as handle:
                batch = load_array_pickle(handle)
            images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            return images, np.asarray(batch[b"labels"], dtype=np.int64)
        except (pickle.UnpicklingError, KeyError, ValueError, TypeError, EOFError, AttributeError,
                IndexError) as error:
            raise CorruptDataError(f"{path}: not a CIFAR-10 batch ({error})") from error

    train = [read_batch(directory / f"data_batch_{index}") for index in range(1, 6)]
    x_test, y_test = read_batch(directory / "test_batch")
    x_train = np.concatenate([images for images, _ in train])
    y_train = np.concatenate([labels for _, labels in train])
    return x_train, y_train, x_test, y_test


def read_cifar_jpeg_tar(path: Path, class_names: list[str], seed: int = 0):
    """Decode the `{train,test}/<class>/NNNN.jpg` tar, shuffled with a fixed seed (the files are grouped by class)."""
    if not path.exists():
        raise FileNotFoundError(str(path))
    splits: dict[str, tuple[list[np.ndarray], list[int]]] = {"train": ([], []), "test": ([], [])}
    class_index = {name: index for index, name in enumerate(class_names)}
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                parts = member.name.split("/")
                if not member.isfile() or len(parts) != 3 or parts[0] not in splits or not parts[2].endswith(".jpg"):
                    continue
                if parts[1] not in class_index:
                    raise CorruptDataError(f"{path}: unknown class folder {parts[1]!r}")
                data = np.frombuffer(archive.extractfile(member).read(), dtype=np.uint8)
                image = cv2.imdecode(data, cv2.IMREAD_COLOR)
                if image is None or image.shape != (32, 32, 3):
                    raise CorruptDataError(f"{path}: {member.name} is not a 32x32 colour JPEG")
                images, labels = splits[parts[0]]
                images.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
                labels.append(class_index[parts[1]])
    except (tarfile.TarError, OSError, EOFError) as error:
        raise CorruptDataError(f"{path}: cannot read the archive ({error})") from error
    rng = np.random.default_rng(seed)
    arrays = []
    for split in ("train", "test"):
        images, labels = splits[split]
        if not images:
            raise CorruptDataError(f"{path}: no {split}/<class>/*.jpg files inside")
        order = rng.permutation(len(images))
        arrays += [np.stack(images)[order], np.asarray(labels, dtype=np.int64)[order]]
    return tuple(arrays)
