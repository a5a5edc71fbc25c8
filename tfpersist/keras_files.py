"""Keras model and weight files, read without TensorFlow or Keras.

Keras writes three kinds of files, and tfpersist reads each of them with
``zipfile``, h5py and NumPy alone:

``.keras`` (kind ``"keras"``)
    A zip archive, written by ``model.save("m.keras")`` since TensorFlow
    2.13 (on 2.12 with ``save_format="keras_v3"``; 2.12's plain
    ``model.save("m.keras")`` writes the HDF5 file below under that name).
    It holds ``config.json`` (the model's config, with its
    ``compile_config``), ``metadata.json`` (the Keras version and the date)
    and ``model.weights.h5``, an HDF5 file with the weights. Keras stores
    every member uncompressed (``ZIP_STORED``), so tfpersist opens the
    weights in place, through a read-only window onto the archive: nothing
    is extracted or copied. A member someone compressed afterwards is
    streamed to a private temporary file, at most its declared size.
``.weights.h5`` (kind ``"weights.h5"``)
    ``model.save_weights("m.weights.h5")``: the same HDF5 file as the
    archive's ``model.weights.h5``, on its own.
``.h5`` (kind ``"h5"``)
    Keras 2's own format, which Keras 3 still writes for
    ``model.save("m.h5")``: one HDF5 file whose attributes hold the
    ``model_config`` and ``training_config`` as JSON, the weights under
    ``model_weights/<layer>/<weight name>`` and the optimizer's under
    ``optimizer_weights/``. Keras 2's ``save_weights("w.h5")`` writes the
    weights alone, the layers at the top.

A variable is named by its HDF5 path in the weights file. The weight
layout (``KerasFile.layout``) says how Keras laid those paths out:

=============  ========================================================  ==============================
layout         paths                                                     written by
=============  ========================================================  ==============================
``keras3``     ``layers/dense/vars/0``, ``optimizer/vars/3``             Keras 2.13 to 2.15 and Keras 3
``keras2.12``  ``_layer_checkpoint_dependencies/dense/vars/0``           Keras 2.12
``legacy``     ``model_weights/dense/dense/kernel:0``                    every release's ``.h5``
=============  ========================================================  ==============================

In the first two, the group of a layer is named after its class in snake
case (``batch_normalization``, ``dense_1``), not after the name you gave the
layer, and a layer's weights are numbered in the order the layer creates
them. Keras 3 writes ``.h5`` names without ``:0``. Keras 2.15 also keeps the
state of compiled metrics (``metrics/mean/vars/0``).

>>> import tensorflow as tf
>>> from tfpersist.keras_files import KerasFile
>>> from tfpersist.keras_models import save_keras_model
>>> model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
>>> _ = save_keras_model(model, "dense.keras")
>>> with KerasFile("dense.keras") as f:
...     print(f.kind, f.model_config["class_name"])
...     for name, dtype, shape, size in f.variables():
...         print(name.split("/", 1)[1], dtype, shape, size)
keras Sequential
dense/vars/0 float32 (3, 2) 24
dense/vars/1 float32 (2,) 8

:meth:`KerasFile.layer_weights` groups the weights by layer, in the order
Keras gives them to the model's layers when it loads the file, which is how
another model can take them layer by layer:

>>> model.save_weights("dense.weights.h5")
>>> with KerasFile("dense.weights.h5") as f:
...     [(layer.split("/")[-1], len(names)) for layer, names in f.layer_weights()]
[('dense', 2)]

.. rubric:: A file from a stranger

Everything in a Keras file is data, and tfpersist treats it as hostile until
read: nothing is extracted (a member named ``../x`` or ``/x`` is refused,
as are duplicate and encrypted members); ``config.json`` and
``metadata.json`` are read with a size cap; a member of more than 1 MB that
claims to expand more than 100 times is refused (Keras stores members
uncompressed), and none is read past the size it declares; a file
that is both a zip archive and an HDF5 file is refused, since a reader that
tries HDF5 first would see another file than one that tries zip first (a
``.keras`` archive whose stored weights happen to start where HDF5 looks is
read, under its ``.keras`` name only, because every Keras opens that name
as a zip). In
the HDF5 file, links to other files or by name (external and soft links),
external raw data, virtual datasets and every dtype but numbers and booleans
(and Keras 3's ``bfloat16``) are refused before anything is read; a dataset
that declares far more bytes than the file stores is refused before memory
is allocated for it; the variable-length strings of Keras 3's ``.h5``
attributes are read by tfpersist itself, each length checked against the
bytes the file holds. Every failure is a
:class:`~tfpersist.errors.KerasFileError` that names the file, the member or
dataset, and what to do:

>>> from pathlib import Path
>>> _ = Path("broken.keras").write_bytes(Path("dense.keras").read_bytes()[:100])
>>> KerasFile("broken.keras")
Traceback (most recent call last):
...
tfpersist.errors.KerasFileError: 'broken.keras': a truncated or damaged zip archive (...); ...

Importing this module imports neither h5py nor NumPy: they are imported
when a file is opened, so telling a Keras file from a checkpoint
(:func:`is_keras_file`) stays cheap.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import re
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tfpersist import _fs
from tfpersist._suggest import did_you_mean
from tfpersist.errors import KerasFileError, TensorNotFoundError, TfPersistError

if TYPE_CHECKING:
    import zipfile

    import numpy as np

__all__ = ["KerasFile", "is_keras_file"]

#: The first eight bytes of an HDF5 file (its superblock signature).
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: The first four bytes of a zip archive (a local file header).
ZIP_SIGNATURE = b"PK\x03\x04"
CONFIG_MEMBER = "config.json"
METADATA_MEMBER = "metadata.json"
WEIGHTS_MEMBER = "model.weights.h5"
#: Names that only Keras files carry (``.weights.h5`` ends in ``.h5``).
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")

#: Largest ``config.json`` read (a model of thousands of layers needs a few MB).
MAX_CONFIG_BYTES = 64 << 20
#: Largest ``metadata.json`` read.
MAX_METADATA_BYTES = 1 << 20
#: Largest text attribute of an HDF5 file read (``model_config``...).
MAX_TEXT_BYTES = 64 << 20
#: A zip member or dataset may expand at most this many times over the bytes it stores...
MAX_RATIO = 100
#: ... once it declares more than this many bytes.
RATIO_FLOOR = 1 << 20
#: More members than this is no Keras file.
MAX_MEMBERS = 100_000
#: More HDF5 links than this is no Keras file.
MAX_LINKS = 1_000_000
#: The longest HDF5 path of a dataset or group (Keras's are a few dozen characters).
MAX_PATH_CHARS = 4096
#: Groups nested deeper than this is no Keras file.
MAX_DEPTH = 256

# HDF5 filters h5py can run without a plugin: deflate, shuffle, fletcher32, szip,
# nbit, scaleoffset, and h5py's own lzf. Any other would load a shared library.
_BUILTIN_FILTERS = frozenset({1, 2, 3, 4, 5, 6, 32000})
_CHUNK = 1 << 20


def is_keras_file(path: str | os.PathLike[str]) -> bool:
    """Whether *path* is a file Keras could have written, judged by its content.

    True for a zip archive with a ``config.json`` member (a ``.keras`` file,
    whatever its name) and for an HDF5 file (``.weights.h5``, ``.h5``).
    A checkpoint prefix, a directory, a missing path or any other file is
    False; this never raises. A damaged archive that starts like a zip is
    True, and so is any file named like a Keras file (``.keras``, ``.h5``,
    ``.hdf5``), so that :class:`KerasFile` can say what is wrong with it.

    >>> import tensorflow as tf
    >>> model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)])
    >>> model.save_weights("w.weights.h5")
    >>> _ = tf.train.Checkpoint(model=model).write("ckpt/ckpt")
    >>> is_keras_file("w.weights.h5"), is_keras_file("ckpt/ckpt"), is_keras_file("missing.keras")
    (True, False, False)
    """
    try:
        text = os.fspath(path)
        if not _fs.isfile(text):
            return False
        if text.lower().endswith(KERAS_SUFFIXES):
            return True
        source = _Source(text)
    except Exception:  # a path that cannot be opened is no Keras file
        return False
    try:
        head = source.pread(0, 8)
        if _hdf5_offset(source) is not None:
            return True
        archive = _open_zip(source)
        if archive is None:
            return head.startswith(ZIP_SIGNATURE)
        with archive:
            return any(info.filename == CONFIG_MEMBER for info in archive.infolist())
    except Exception:
        return False
    finally:
        source.close()


class _Source:
    """A file opened for reading at any offset, local or behind a TensorFlow URL."""

    def __init__(self, path: str) -> None:
        self.path = path
        if _fs.is_url(path):
            self._handle = _fs.open_read(path)
        else:  # a FIFO would block a plain open, and a device never end
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise OSError(errno.EINVAL, "not a regular file", path)
            self._handle = fd
        try:
            self.size = _fs.file_size(self._handle)
        except BaseException:
            _fs.close(self._handle)
            raise

    def pread(self, offset: int, n: int) -> bytes:
        """Up to *n* bytes at *offset*; fewer at the end of the file."""
        n = max(0, min(n, self.size - offset))
        if n == 0 or offset < 0:
            return b""
        buffer = bytearray(n)
        got = _fs.read_into(self._handle, memoryview(buffer), offset)
        return bytes(buffer[:got])

    def readinto_at(self, buffer: memoryview, offset: int) -> int:
        return _fs.read_into(self._handle, buffer, offset)

    def close(self) -> None:
        _fs.close(self._handle)


class _Window(io.RawIOBase):
    """A read-only file object over bytes ``[start, start + size)`` of a :class:`_Source`."""

    def __init__(self, source: _Source, start: int, size: int) -> None:
        super().__init__()
        self._source, self._start, self._size, self._pos = source, start, size, 0
        self.name = source.path

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        if base + offset < 0:
            raise OSError(22, "negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = max(0, min(len(view), self._size - self._pos))
        if n == 0:
            return 0
        got = self._source.readinto_at(view[:n], self._start + self._pos)
        self._pos += got
        return got

    def pread(self, offset: int, n: int) -> bytes:
        """Up to *n* bytes at *offset* of the window, leaving the position alone."""
        n = max(0, min(n, self._size - offset))
        return self._source.pread(self._start + offset, n) if n and offset >= 0 else b""


def _hdf5_offset(source: _Source) -> int | None:
    """Where the HDF5 library finds a superblock in *source*: 0 or 512 * 2**k; None if nowhere."""
    offset = 0
    while offset + 8 <= source.size:
        if source.pread(offset, 8) == HDF5_SIGNATURE:
            return offset
        offset = 512 if offset == 0 else offset * 2
    return None


def _open_zip(source: _Source) -> zipfile.ZipFile | None:
    """*source* as a zip archive, or None when it has no end-of-archive record at all."""
    import zipfile

    window = _Window(source, 0, source.size)
    try:
        return zipfile.ZipFile(window)
    except zipfile.BadZipFile as e:
        if "not a zip file" in str(e).lower():
            return None
        raise


def _json_error(what: str, e: BaseException) -> str:
    if isinstance(e, UnicodeDecodeError):
        return f"{what} is not UTF-8 text (byte {e.start} is {e.object[e.start : e.start + 1]!r})"
    if isinstance(e, json.JSONDecodeError):
        return f"{what} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})"
    if isinstance(e, RecursionError):
        return f"{what} nests JSON deeper than Python can parse"
    return f"{what} is not valid JSON ({e})"


def _parse_json(data: bytes, what: str, fail: Any) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError and JSONDecodeError too
        raise fail(_json_error(what, e)) from e


def _natural(name: str) -> tuple[Any, ...]:
    """Sort key that puts ``dense_2`` before ``dense_10`` and ``vars/2`` before ``vars/10``."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


class _Unparsable(Exception):
    """The raw HDF5 reader met a structure it does not know or that does not add up."""


class _RawHDF5:
    """Just enough of the HDF5 file format to read what h5py cannot read within bounds.

    h5py allocates a variable-length string from the length its attribute
    declares, before it looks at the bytes the file holds: a 4 KB file can
    make it allocate 4 GB. This reader finds the attribute in its object
    header and reads each string from its global heap collection, checking
    each length against the bytes there. It also reads the names of a
    group's links in the order they were made, which the group's local heap
    keeps (h5py lists them sorted by name). Every size read from the file is
    checked against the file before anything is allocated from it.
    """

    def __init__(self, read: Any, size: int, base: int) -> None:
        self._read_at, self.size, self.base = read, size, base
        head = self._bytes(0, 16)
        if head[:8] != HDF5_SIGNATURE:
            raise _Unparsable("no HDF5 superblock")
        version = head[8]
        if version in (0, 1):
            self.o, self.l = head[13], head[14]
        elif version in (2, 3):
            self.o, self.l = head[9], head[10]
        else:
            raise _Unparsable(f"superblock version {version}")
        if self.o not in (2, 4, 8) or self.l not in (2, 4, 8):
            raise _Unparsable("odd address sizes")
        self._collections: dict[int, bytes] = {}

    def _bytes(self, addr: int, n: int) -> bytes:
        start = self.base + addr
        if addr < 0 or n < 0 or start + n > self.size:
            raise _Unparsable(f"{n} bytes at {addr} lie past the end of the file")
        data = bytes(self._read_at(start, n))
        if len(data) != n:
            raise _Unparsable(f"{n} bytes at {addr} could not be read")
        return data

    @staticmethod
    def _int(data: bytes, pos: int, width: int) -> int:
        if pos < 0 or pos + width > len(data):
            raise _Unparsable("a field runs past its structure")
        return int.from_bytes(data[pos : pos + width], "little")

    def messages(self, addr: int) -> list[tuple[int, bytes]]:
        """The header messages of the object at *addr*, continuation blocks followed."""
        head = self._bytes(addr, 16)
        blocks: list[tuple[int, int, int, int]] = []
        if head[:4] == b"OHDR":
            flags, pos = head[5], 6
            pos += 16 if flags & 0x20 else 0
            pos += 4 if flags & 0x10 else 0
            width = 1 << (flags & 3)
            size = self._int(self._bytes(addr, pos + width), pos, width)
            blocks.append((addr + pos + width, size, 2, flags))
        elif head[0] == 1:
            blocks.append((addr + 16, self._int(head, 8, 4), 1, 0))
        else:
            raise _Unparsable("unknown object header version")
        found: list[tuple[int, int, int, int]] = []
        result: list[tuple[int, bytes]] = []
        total = 0
        while blocks:
            start, length, version, flags = blocks.pop(0)
            found.append((start, length, version, flags))
            total += length
            if len(found) > 1024 or total > (64 << 20):
                raise _Unparsable("an object header too large")
            data = self._bytes(start, length)
            pos, head_size = 0, (8 if version == 1 else 4 + (2 if flags & 0x04 else 0))
            while pos + head_size <= len(data):
                if version == 1:
                    kind, size = self._int(data, pos, 2), self._int(data, pos + 2, 2)
                else:
                    kind, size = data[pos], self._int(data, pos + 1, 2)
                body = data[pos + head_size : pos + head_size + size]
                if len(body) != size:
                    raise _Unparsable("a header message runs past its block")
                pos += head_size + size
                if kind != 0x10:
                    result.append((kind, body))
                    continue
                where, span = self._int(body, 0, self.o), self._int(body, self.o, self.l)
                if version == 1:
                    blocks.append((where, span, 1, 0))
                else:
                    if self._bytes(where, 4) != b"OCHK":
                        raise _Unparsable("a continuation block without its signature")
                    blocks.append((where + 4, span - 8, 2, flags))
        return result

    def link_order(self, addr: int) -> list[bytes] | None:
        """The names of the links of the group at *addr*, in the order they were made."""
        messages = self.messages(addr)
        for kind, body in messages:
            if kind == 0x11:  # a symbol table: the names sit in the local heap, oldest first
                return self._heap_names(self._int(body, self.o, self.o))
        links: list[tuple[int, int, bytes]] = []
        for index, (kind, body) in enumerate(messages):
            if kind == 0x06:  # a link message of a compact group
                flags, pos = body[1], 2
                pos += 1 if flags & 0x08 else 0
                order = index
                if flags & 0x04:
                    order = self._int(body, pos, 8)
                    pos += 8
                pos += 1 if flags & 0x10 else 0
                width = 1 << (flags & 3)
                n = self._int(body, pos, width)
                links.append((order, index, body[pos + width : pos + width + n]))
        return [name for _, _, name in sorted(links)] if links else None

    def _heap_names(self, heap: int) -> list[bytes]:
        head = self._bytes(heap, 8 + 2 * self.l + self.o)
        if head[:4] != b"HEAP" or head[4] != 0:
            raise _Unparsable("no local heap where the group says")
        size = self._int(head, 8, self.l)
        free = self._int(head, 8 + self.l, self.l)
        if size > (64 << 20):
            raise _Unparsable("a local heap too large")
        data = self._bytes(self._int(head, 8 + 2 * self.l, self.o), size)
        gaps: dict[int, int] = {}
        while 0 <= free < size and free % 8 == 0 and free not in gaps and len(gaps) < 100_000:
            gaps[free] = max(8, self._int(data, free + self.l, self.l))
            free = self._int(data, free, self.l)
        names, pos = [], 0
        while pos < size:
            if pos in gaps:
                pos += gaps[pos]
                continue
            end = data.find(b"\0", pos)
            if end < 0:
                break
            names.append(data[pos:end])
            pos = (end + 8) & ~7
        return [name for name in names if name]

    def attribute(self, addr: int, name: bytes) -> tuple[bytes, bytes, bytes] | None:
        """The datatype, dataspace and data of attribute *name* of the object at *addr*."""
        for kind, body in self.messages(addr):
            if kind != 0x0C:
                continue
            version = body[0]
            flags = body[1] if version > 1 else 0
            if flags & 0x03:
                raise _Unparsable("a shared datatype or dataspace")
            sizes = struct.unpack_from("<HHH", body, 2)
            pos = 8 if version < 3 else 9
            fields = []
            for n in sizes:  # the name, the datatype, the dataspace; padded to 8 in version 1
                fields.append(body[pos : pos + n])
                pos = ((pos + n + 7) & ~7) if version == 1 else pos + n
            found, datatype, dataspace = fields
            if found.rstrip(b"\0") != name:
                continue
            return datatype, dataspace, body[pos:]
        return None

    def _count(self, dataspace: bytes) -> int:
        version, rank = dataspace[0], dataspace[1]
        if version == 1:
            pos = 8
        elif version == 2:
            if dataspace[3] == 2:  # a null dataspace
                return 0
            pos = 4
        else:
            raise _Unparsable("unknown dataspace version")
        return math.prod(self._int(dataspace, pos + i * self.l, self.l) for i in range(rank))

    def strings(self, addr: int, name: bytes, cap: int) -> list[bytes] | None:
        """The variable-length strings of an attribute, at most *cap* bytes in all; None if not found."""
        parts = self.attribute(addr, name)
        if parts is None:
            return None
        datatype, dataspace, data = parts
        if datatype[0] & 0x0F != 9 or datatype[1] & 0x0F != 1:
            raise _Unparsable("not a variable-length string")
        width = 4 + self.o + 4
        count = self._count(dataspace)
        if count * width > len(data):
            raise _Unparsable(f"{count} strings declared, room for {len(data) // width}")
        values, total = [], 0
        for i in range(count):
            pos = i * width
            length = self._int(data, pos, 4)
            total += length
            if total > cap:
                raise _Unparsable(f"its strings declare more than {cap} bytes")
            if length == 0:
                values.append(b"")
                continue
            where, index = self._int(data, pos + 4, self.o), self._int(data, pos + 4 + self.o, 4)
            value = self._heap_object(where, index, cap)
            if len(value) != length:
                raise _Unparsable(f"a string declares {length} bytes, its heap holds {len(value)}")
            values.append(value)
        return values

    def _heap_object(self, where: int, index: int, cap: int) -> bytes:
        if where not in self._collections:
            head = self._bytes(where, 8 + self.l)
            if head[:4] != b"GCOL":
                raise _Unparsable("no global heap where a string points")
            size = self._int(head, 8, self.l)
            if size > cap + 4096:
                raise _Unparsable(f"a global heap of {size} bytes")
            self._collections[where] = self._bytes(where, size)
        data = self._collections[where]
        pos = (8 + self.l + 7) & ~7
        while pos + 8 + self.l <= len(data):
            found, size = self._int(data, pos, 2), self._int(data, pos + 8, self.l)
            start = pos + 8 + self.l
            if found == 0:
                break
            if start + size > len(data):
                raise _Unparsable("a heap object runs past its collection")
            if found == index:
                return data[start : start + size]
            pos = start + ((size + 7) & ~7)
        raise _Unparsable(f"no object {index} in its global heap")


@dataclass(frozen=True)
class _Variable:
    """A dataset checked fit to read: its path, NumPy dtype, shape and size."""

    path: str
    dtype: Any  # numpy.dtype, in native byte order (void for bfloat16)
    shape: tuple[int, ...]
    nbytes: int
    bfloat16: bool = False


_CLASSES = {
    0: "integer", 1: "float", 2: "time", 3: "string", 4: "bitfield", 5: "opaque",
    6: "compound", 7: "object or region reference", 8: "enum", 9: "variable-length", 10: "array",
}  # fmt: skip


class KerasFile:
    """A ``.keras``, ``.weights.h5`` or Keras ``.h5`` file, open for reading.

    *kind* is ``"keras"`` (the zip archive), ``"weights.h5"`` (the weights
    file of Keras 2.13 and later) or ``"h5"`` (Keras 2's HDF5 format, a
    model or weights alone). *layout* is ``"keras3"``, ``"keras2.12"`` or
    ``"legacy"`` (see the module's table); ``None`` for a ``.keras`` archive
    opened with ``weights=False``. *keras_version* comes from
    ``metadata.json`` or the ``.h5`` file's ``keras_version`` attribute.
    *model_config* is ``config.json``, or the ``model_config`` attribute of an
    ``.h5`` file, parsed (None for weights alone). *training_config* is the
    ``training_config`` attribute of an ``.h5`` file, or the
    ``compile_config`` that ``config.json`` holds; *training_config_source*
    says which (``"training_config"``, ``"compile_config"`` or None).
    *metadata* is ``metadata.json``, or the ``keras_version`` and ``backend``
    attributes of an ``.h5`` file. The configs are what the file holds: a
    dict for every file Keras writes, whatever JSON it is otherwise.

    With ``weights=False`` only the configs are read: the weights of a
    ``.keras`` archive are not opened at all, and those of an ``.h5`` file are
    not walked, so the config of a file with damaged weights can still be
    audited. Close the file, or use it in a ``with`` block.

    >>> import tensorflow as tf
    >>> model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # Keras calls .h5 a legacy format
    ...     model.save("legacy.h5")
    >>> with KerasFile("legacy.h5") as f:
    ...     print(f.kind, f.layout, f.model_config["class_name"], f.training_config)
    ...     print([name.split(":")[0].split("/")[-1] for name in f.names()])
    h5 legacy Sequential None
    ['bias', 'kernel']
    """

    path: str
    kind: str
    layout: str | None
    keras_version: str | None
    model_config: Any
    training_config: Any
    training_config_source: str | None
    metadata: Any

    def __init__(self, path: str | os.PathLike[str], *, weights: bool = True) -> None:
        self.path = os.fspath(path)
        self.kind = ""
        self.layout = self.keras_version = self.training_config_source = None
        self.model_config = self.training_config = self.metadata = None
        self._weights = weights
        self._source: _Source | None = None
        self._archive: zipfile.ZipFile | None = None
        self._member: Any = None  # the file object h5py reads
        self._h5: Any = None
        self._raw: _RawHDF5 | None = None
        self._variables: dict[str, _Variable] | None = None
        self._crc: tuple[int, int, int] | None = None  # the stored weights: start, size, CRC-32
        self._h5_size = 0
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    # -- errors ---------------------------------------------------------

    def _error(self, message: str) -> KerasFileError:
        return KerasFileError(f"{self.path!r}: {message}")

    def _h5_error(self, where: str, e: BaseException) -> KerasFileError:
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        member = f"{WEIGHTS_MEMBER} of " if self.kind == "keras" else ""
        return self._error(
            f"{member}the HDF5 file cannot be read at {where or '/'} ({detail}); the file is "
            "damaged or was not written by Keras: save it again from the model"
        )

    def _guarded(self, where: str) -> _Guard:
        return _Guard(self, where)

    # -- opening --------------------------------------------------------

    def _open(self) -> None:
        if _fs.isdir(self.path):
            raise self._error(
                "a directory, not a Keras file; pass a .keras, .weights.h5 or .h5 file"
            )
        try:
            source = self._source = _Source(self.path)
        except FileNotFoundError as e:
            raise self._error("no such file; pass a .keras, .weights.h5 or .h5 file") from e
        except OSError as e:
            raise self._error(f"cannot be opened ({e.strerror or e}); check the path") from e
        import zipfile

        head = source.pread(0, 8)
        at = _hdf5_offset(source)
        try:
            archive = self._archive = _open_zip(source)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, struct.error) as e:
            if head.startswith(ZIP_SIGNATURE) or at is None:
                raise self._error(
                    f"a truncated or damaged zip archive ({e}); copy the file again, or "
                    "save it again from the model"
                ) from e
            archive = None  # an HDF5 file with bytes that look like the end of a zip
        if archive is None and at is None and head.startswith(ZIP_SIGNATURE):
            raise self._error(
                "a truncated or damaged zip archive (it has no end-of-archive record); copy the "
                "file again, or save it again from the model"
            )
        if archive is not None:
            starts = self._check_members(archive)
            if at is not None and at not in starts:
                raise self._error(
                    f"both a zip archive and an HDF5 file (its HDF5 superblock is at byte {at}, "
                    "outside every member); Keras and tfpersist could read different models "
                    "from it, so it is refused: ask for the file as Keras saved it"
                )
            if at is not None and not self.path.endswith(".keras"):  # as Keras tests it
                # Keras opens a zip as a zip only under a .keras name; else it tries HDF5
                raise self._error(
                    f"both a zip archive and an HDF5 file (a member's data is an HDF5 file at "
                    f"byte {at}); Keras reads a file not named .keras as that HDF5 file and "
                    "tfpersist would read the zip, so it is refused: if Keras saved it as "
                    ".keras, give it that name again"
                )
            self.kind = "keras"
            self._open_archive(archive)
        elif at is not None:
            self._open_h5(_Window(source, 0, source.size), source.size)
        else:
            raise self._error(
                "neither a .keras zip archive nor an HDF5 file (.weights.h5, .h5); "
                "pass a file Keras saved"
            )

    def _check_members(self, archive: zipfile.ZipFile) -> set[int]:
        """Refuse the members no Keras archive has; return where each stored member's data starts."""
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise self._error(f"a zip archive of {len(infos)} members; no Keras file has that many")
        seen: set[str] = set()
        starts: set[int] = set()
        end = getattr(archive, "start_dir", self._size)
        for info in infos:
            name = info.orig_filename
            parts = re.split(r"[\\/]", name)
            if (
                name.startswith(("/", "\\"))
                or re.match(r"[A-Za-z]:", name)
                or ".." in parts
                or "\0" in name
            ):
                raise self._error(
                    f"member {name!r} names a path outside the archive (absolute, '..' or a NUL "
                    "byte); Keras never writes one: the archive is hostile or damaged"
                )
            if name in seen:
                raise self._error(
                    f"member {name!r} is in the archive twice, and readers disagree about "
                    "which one counts; ask for the file as Keras saved it"
                )
            seen.add(name)
            if info.flag_bits & 0x1:
                raise self._error(f"member {name!r} is encrypted; Keras never encrypts a member")
            if info.compress_type not in (0, 8):  # stored, deflated
                raise self._error(
                    f"member {name!r} is compressed with zip method {info.compress_type}; "
                    "Keras stores members uncompressed: save the model again"
                )
            if name.startswith("model.weights") and name != WEIGHTS_MEMBER:
                # Keras 2 loads model.weights.npz with np.load(allow_pickle=True)
                raise self._error(
                    f"member {name!r} holds the weights in a form Keras 2 loads by unpickling "
                    f"them, which can run code; tfpersist reads only {WEIGHTS_MEMBER}: save "
                    "the model again with Keras's default weights format"
                )
            if info.compress_type == 0:
                starts.add(self._data_start(archive, info, end))
        return starts

    @property
    def _size(self) -> int:
        return self._source.size if self._source else 0

    def _data_start(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, end: int) -> int:
        """Where member *info*'s data starts, checked against its local header."""
        assert self._source is not None
        header = self._source.pread(info.header_offset, 30)
        if len(header) != 30 or header[:4] != ZIP_SIGNATURE:
            raise self._error(
                f"member {info.filename!r} has no local header at byte {info.header_offset}; "
                "the archive is damaged: copy the file again"
            )
        (method,) = struct.unpack_from("<H", header, 8)
        name_size, extra_size = struct.unpack_from("<HH", header, 26)
        raw = self._source.pread(info.header_offset + 30, name_size)
        encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
        try:
            same = raw.decode(encoding) == info.orig_filename
        except UnicodeDecodeError:
            same = False
        if not same or method != info.compress_type:
            raise self._error(
                f"member {info.filename!r}: its local header names {raw!r} or another method; "
                "readers would disagree about it: ask for the file as Keras saved it"
            )
        start = info.header_offset + 30 + name_size + extra_size
        if info.compress_type == 0 and info.compress_size != info.file_size:
            raise self._error(
                f"member {info.filename!r} is stored uncompressed but declares {info.file_size} "
                f"bytes and stores {info.compress_size}; the archive is damaged"
            )
        if start + info.compress_size > min(end, self._size):
            raise self._error(
                f"member {info.filename!r} runs past the end of the archive; the file is "
                "truncated: copy it again"
            )
        return start

    def _member_info(self, name: str) -> zipfile.ZipInfo | None:
        assert self._archive is not None
        for info in self._archive.infolist():
            if info.filename == name:
                return info
        return None

    def _check_ratio(self, info: zipfile.ZipInfo) -> None:
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(1, info.compress_size):
            raise self._error(
                f"member {info.filename!r} declares {info.file_size} bytes from "
                f"{info.compress_size} compressed, more than {MAX_RATIO} times: no Keras file "
                "does that (Keras stores members uncompressed); refused as a zip bomb"
            )

    def _read_json(self, name: str, cap: int, required: bool) -> Any:
        import zipfile

        info = self._member_info(name)
        if info is None:
            if required:
                raise self._error(
                    f"the archive has no {name} member, which every .keras file has; "
                    "it is not a Keras model archive, or it is damaged"
                )
            return None
        if info.file_size > cap:
            raise self._error(
                f"member {name!r} declares {info.file_size} bytes, more than the {cap} "
                "tfpersist reads; Keras writes far smaller ones"
            )
        self._check_ratio(info)
        assert self._archive is not None
        try:
            with self._archive.open(info) as member:
                data = member.read(cap + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, struct.error) as e:
            raise self._error(
                f"member {name!r} cannot be read ({e}); the archive is damaged: copy it again"
            ) from e
        if len(data) > cap:
            raise self._error(f"member {name!r} holds more than {cap} bytes")
        return _parse_json(data, f"member {name!r}", self._error)

    def _open_archive(self, archive: zipfile.ZipFile) -> None:
        self.model_config = self._read_json(CONFIG_MEMBER, MAX_CONFIG_BYTES, True)
        self.metadata = self._read_json(METADATA_MEMBER, MAX_METADATA_BYTES, False)
        if isinstance(self.metadata, dict) and isinstance(self.metadata.get("keras_version"), str):
            self.keras_version = self.metadata["keras_version"]
        if isinstance(self.model_config, dict) and "compile_config" in self.model_config:
            self.training_config = self.model_config["compile_config"]
            self.training_config_source = "compile_config"
        if not self._weights:
            return
        info = self._member_info(WEIGHTS_MEMBER)
        if info is None:
            other = [
                i.filename for i in archive.infolist() if i.filename.startswith("model.weights")
            ]
            found = f" (it has {other[0]!r}, which tfpersist does not read)" if other else ""
            raise self._error(
                f"the archive has no {WEIGHTS_MEMBER} member{found}; save the model again "
                "with Keras's default weights format"
            )
        self._check_ratio(info)
        if info.compress_type == 0:
            assert self._source is not None
            start = self._data_start(archive, info, getattr(archive, "start_dir", self._size))
            self._crc = (start, info.file_size, info.CRC)
            self.verify_crc()  # a changed byte is named as such, before libhdf5 trips on it
            self._open_h5(_Window(self._source, start, info.file_size), info.file_size)
        else:
            self._open_h5(*self._extract_weights(info))

    def _extract_weights(self, info: zipfile.ZipInfo) -> tuple[Any, int]:
        """Stream a compressed weights member to a private temporary file, at most its declared size."""
        import tempfile
        import zipfile

        assert self._archive is not None
        copy = tempfile.TemporaryFile(prefix="tfpersist-")  # noqa: SIM115 (closed by close())
        self._member = copy
        written = 0
        try:
            with self._archive.open(info) as member:
                while chunk := member.read(_CHUNK):
                    written += len(chunk)
                    if written > info.file_size:
                        raise self._error(
                            f"member {info.filename!r} expands past the {info.file_size} bytes "
                            "it declares; refused as a zip bomb"
                        )
                    copy.write(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, struct.error) as e:
            if isinstance(e, TfPersistError):
                raise
            raise self._error(
                f"member {info.filename!r} cannot be read ({e}); the archive is damaged: "
                "copy it again"
            ) from e
        copy.flush()
        return copy, written

    def _open_h5(self, member: Any, size: int) -> None:
        import h5py

        if self._member is None:
            self._member = member
        with self._guarded(""):
            self._h5 = h5py.File(member, "r")
            base = int(self._h5.userblock_size)
        if isinstance(member, _Window):
            read = member.pread
        else:
            fd = member.fileno()

            def read(offset: int, n: int) -> bytes:
                return os.pread(fd, n, offset)

        try:
            self._raw = _RawHDF5(read, size, base)
        except _Unparsable as e:
            raise self._h5_error("the superblock", e) from e
        self._h5_size = size
        root = self._h5.id
        with self._guarded(""):
            top = {self._decode(name, "") for name in root}
        if self.kind == "keras":
            self.layout = "keras2.12" if "_layer_checkpoint_dependencies" in top else "keras3"
        else:
            with self._guarded(""):
                attributes = set(self._h5.attrs.keys())
            if attributes & {"model_config", "layer_names"} or "model_weights" in top:
                self.kind, self.layout = "h5", "legacy"
                self._read_h5_configs(attributes)
            elif top & {"layers", "vars", "optimizer", "_layer_checkpoint_dependencies"}:
                self.kind = "weights.h5"
                self.layout = "keras2.12" if "_layer_checkpoint_dependencies" in top else "keras3"
            else:
                raise self._error(
                    "an HDF5 file, but not one Keras wrote: it has no model_config or "
                    "layer_names attribute and no layers/, vars/ or model_weights/ group"
                )
        if self._weights:
            self._variables = self._walk()

    def _read_h5_configs(self, attributes: set[str]) -> None:
        root = self._h5.id
        for name, target in (("model_config", "model_config"), ("training_config", "training")):
            if name not in attributes:
                continue
            text = self._text(root, "", name)
            if not isinstance(text, str):
                raise self._error(f"attribute {name!r} is not a string; Keras writes JSON text")
            parsed = _parse_json(text.encode("utf-8"), f"attribute {name!r}", self._error)
            if target == "model_config":
                self.model_config = parsed
            else:
                self.training_config, self.training_config_source = parsed, "training_config"
        metadata: dict[str, Any] = {}
        for name in ("keras_version", "backend"):
            if name in attributes:
                metadata[name] = self._text(root, "", name)
        if metadata:
            self.metadata = metadata
            if isinstance(metadata.get("keras_version"), str):
                self.keras_version = metadata["keras_version"]

    # -- HDF5, within bounds --------------------------------------------

    def _decode(self, raw: bytes, parent: str) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise self._error(
                f"the HDF5 name {raw!r} under {parent or '/'!r} is not UTF-8, and Keras writes "
                "UTF-8 names; the file is damaged or was not written by Keras"
            ) from e

    def _address(self, oid: Any) -> int:
        import h5py

        return int(h5py.h5o.get_info(oid).addr)

    def _text(self, oid: Any, where: str, name: str) -> str | list[str]:
        """A text attribute: one string, or a list of them; read within :data:`MAX_TEXT_BYTES`."""
        import h5py
        import numpy as np

        label = f"attribute {name!r} of {where or '/'!r}"
        with self._guarded(where):
            attribute = h5py.h5a.open(oid, name.encode("utf-8"))
            kind = attribute.get_type()
            shape = attribute.shape
            variable = kind.get_class() == h5py.h5t.STRING and kind.is_variable_str()
        count = math.prod(shape) if shape is not None else 0
        if count == 0 and shape != ():
            return []  # Keras writes an empty list as an empty float array
        if kind.get_class() != h5py.h5t.STRING:
            raise self._error(
                f"{label} is {_CLASSES.get(kind.get_class(), 'of another class')}, not text"
            )
        if variable:
            assert self._raw is not None
            try:
                found = self._raw.strings(self._address(oid), name.encode("utf-8"), MAX_TEXT_BYTES)
            except _Unparsable as e:
                raise self._error(
                    f"{label} cannot be read safely ({e}); the file is damaged or hostile"
                ) from e
            if found is None:
                raise self._error(
                    f"{label} is kept where tfpersist cannot check its size (dense attribute "
                    "storage, which Keras does not use); save the model again"
                )
            values = found
        else:
            width = kind.get_size()
            if width * count > MAX_TEXT_BYTES:
                raise self._error(f"{label} holds more than {MAX_TEXT_BYTES} bytes")
            with self._guarded(where):
                data = np.empty(shape or (), dtype=f"S{max(width, 1)}")
                if count:
                    attribute.read(data)
            values = [bytes(v) for v in data.reshape(-1)] if count else []
        try:
            texts = [v.decode("utf-8") for v in values]
        except UnicodeDecodeError as e:
            raise self._error(f"{label} is not UTF-8 text") from e
        return texts[0] if shape == () and texts else texts

    def _text_list(self, oid: Any, where: str, name: str) -> list[str] | None:
        """A list attribute as Keras writes it: *name*, or split into *name0*, *name1*, ..."""
        import h5py

        with self._guarded(where):
            names = {n.decode("utf-8", "replace") for n in _attribute_names(oid, h5py)}
        if name in names:
            value = self._text(oid, where, name)
            return [value] if isinstance(value, str) else value
        found: list[str] = []
        index = size = 0
        while f"{name}{index}" in names:
            value = self._text(oid, where, f"{name}{index}")
            items = [value] if isinstance(value, str) else value
            found += items
            size += sum(map(len, items))
            if size > MAX_TEXT_BYTES or len(found) > MAX_LINKS:
                raise self._error(
                    f"attributes {name}0, {name}1, ... at {where!r} hold more than "
                    f"{MAX_TEXT_BYTES} bytes or {MAX_LINKS} names together; no Keras file has"
                )
            index += 1
        return found if index else None

    def _check_dataset(self, path: str, oid: Any) -> _Variable:
        import h5py
        import numpy as np

        def refuse(what: str) -> KerasFileError:
            return self._error(
                f"dataset {path!r} {what}; Keras writes plain arrays of numbers: the file is "
                "hostile or was not written by Keras"
            )

        with self._guarded(path):
            kind = oid.get_type()
            klass, width = kind.get_class(), kind.get_size()
            plist = oid.get_create_plist()
            layout = plist.get_layout()
            external = plist.get_external_count()
            filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
            space = oid.get_space()
            extent = space.get_simple_extent_type()
            shape = tuple(int(n) for n in space.shape) if extent != h5py.h5s.NULL else None
            stored = int(oid.get_storage_size())
            chunk = plist.get_chunk() if layout == h5py.h5d.CHUNKED else None
        if external:
            raise refuse("keeps its data in another file (external storage)")
        if layout == getattr(h5py.h5d, "VIRTUAL", -1):
            raise refuse("is a virtual dataset, made of other files")
        unknown = [f for f in filters if f not in _BUILTIN_FILTERS]
        if unknown:
            raise refuse(f"needs HDF5 filter {unknown[0]}, which would load a plugin")
        if shape is None:
            raise refuse("has no dataspace (an empty HDF5 dataset)")
        bfloat16 = False
        if klass in (h5py.h5t.INTEGER, h5py.h5t.FLOAT) and width in (
            (1, 2, 4, 8) if klass == h5py.h5t.INTEGER else (2, 4, 8)
        ):
            with self._guarded(path):
                dtype = h5py.Dataset(oid).dtype.newbyteorder("=")
        elif klass == h5py.h5t.ENUM:
            with self._guarded(path):  # h5py's booleans: the enum FALSE = 0, TRUE = 1
                boolean = h5py.Dataset(oid).dtype == np.dtype(bool)
            if not boolean or width != 1:
                raise refuse("is an enum; only h5py's booleans are read")
            dtype = np.dtype(bool)
        elif klass == h5py.h5t.OPAQUE and width == 2 and self._bfloat16_tag(oid, path):
            dtype, bfloat16 = np.dtype("V2"), True
        elif klass == h5py.h5t.OPAQUE and width == 2:
            raise refuse(
                "holds untagged 2-byte opaque values: Keras 2 writes bfloat16 weights so, and "
                "cannot load them back either; save them as float32"
            )
        else:
            raise refuse(f"holds {_CLASSES.get(klass, 'unknown')} values of {width} bytes")
        nbytes = math.prod(shape) * dtype.itemsize
        limit = max(RATIO_FLOOR, MAX_RATIO * stored)
        if stored > self._h5_size or nbytes > limit:
            raise refuse(
                f"declares {nbytes} bytes and stores {stored} in a file of {self._h5_size}; "
                "refused before reading, as a compression bomb or a damaged header"
            )
        if chunk is not None and math.prod(chunk) * dtype.itemsize > max(nbytes, RATIO_FLOOR):
            raise refuse("declares chunks larger than itself")
        return _Variable(path, dtype, shape, nbytes, bfloat16)

    def _bfloat16_tag(self, oid: Any, path: str) -> bool:
        """Whether a 2-byte opaque dataset carries Keras 3's ``dtype="bfloat16"`` attribute."""
        import h5py

        with self._guarded(path):
            if not h5py.h5a.exists(oid, b"dtype"):
                return False
        return self._text(oid, path, "dtype") == "bfloat16"

    def _walk(self) -> dict[str, _Variable]:
        """Every dataset of the weights, each checked; groups by hard links only, each once."""
        import h5py

        variables: dict[str, _Variable] = {}
        groups: set[int] = set()
        links = total = names_bytes = 0
        stack: list[tuple[str, Any, int]] = [("", self._h5.id, 0)]
        while stack:
            path, gid, depth = stack.pop()
            with self._guarded(path):
                address = self._address(gid)
                names = list(gid)
            if address in groups:
                continue  # a group linked twice, or a cycle
            groups.add(address)
            if depth > MAX_DEPTH:
                raise self._error(f"groups nest deeper than {MAX_DEPTH} levels at {path!r}")
            for raw in names:
                links += 1
                if links > MAX_LINKS:
                    raise self._error(f"more than {MAX_LINKS} HDF5 links; no Keras file has")
                name = self._decode(raw, path)
                full = f"{path}/{name}" if path else name
                names_bytes += len(full)
                if len(full) > MAX_PATH_CHARS or names_bytes > MAX_TEXT_BYTES:
                    raise self._error(
                        f"its HDF5 paths run longer than {MAX_PATH_CHARS} characters each or "
                        f"{MAX_TEXT_BYTES} together (at {full[:80]!r}...); no Keras file has "
                        "such names"
                    )
                with self._guarded(full):
                    link = gid.links.get_info(raw).type
                if link != h5py.h5l.TYPE_HARD:
                    what = {h5py.h5l.TYPE_SOFT: "a soft link", h5py.h5l.TYPE_EXTERNAL: "an "
                            "external link to another file"}.get(link, "a user-defined link")  # fmt: skip
                    raise self._error(
                        f"{full!r} is {what}; Keras never writes links, and following one "
                        "could read another file: refused"
                    )
                with self._guarded(full):
                    child = h5py.h5o.open(gid, raw)
                    kind = h5py.h5o.get_info(child).type
                if kind == h5py.h5o.TYPE_GROUP:
                    stack.append((full, child, depth + 1))
                elif kind == h5py.h5o.TYPE_DATASET:
                    variables[full] = self._check_dataset(full, child)
                    total += variables[full].nbytes
                    if total > max(RATIO_FLOOR, MAX_RATIO * self._h5_size):
                        raise self._error(
                            f"its datasets declare {total} bytes or more in a file of "
                            f"{self._h5_size}; Keras stores every byte it declares, so this is a "
                            "compression bomb or a damaged file: refused before reading"
                        )
                else:
                    raise self._error(f"{full!r} is an HDF5 named datatype; Keras never writes one")
        return dict(sorted(variables.items()))

    def _children(self, gid: Any, path: str) -> list[bytes]:
        """The links of a group in the order they were made (Keras's order); see :meth:`layer_weights`."""
        import h5py

        with self._guarded(path):
            names = list(gid)
        assert self._raw is not None
        try:
            made = self._raw.link_order(self._address(gid))
        except _Unparsable:
            made = None
        if made is not None:
            present = set(names)
            kept = [n for n in dict.fromkeys(made) if n in present]
            if len(kept) == len(names):
                return kept
        with self._guarded(path):
            tracked = gid.get_create_plist().get_link_creation_order()
            if tracked & h5py.h5p.CRT_ORDER_TRACKED:
                ordered: list[bytes] = []
                gid.links.iterate(ordered.append, idx_type=h5py.h5.INDEX_CRT_ORDER)
                if len(ordered) == len(names):
                    return ordered
        return sorted(names, key=lambda n: _natural(n.decode("utf-8", "replace")))

    # -- the public face ------------------------------------------------

    def _need_weights(self) -> dict[str, _Variable]:
        if self._variables is None:
            raise self._error(
                "opened with weights=False, so its weights were not read; open it again "
                "without weights=False"
            )
        return self._variables

    def names(self) -> list[str]:
        """The name (HDF5 path) of every variable, sorted.

        >>> import tensorflow as tf
        >>> model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2, name="out")])
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")  # Keras calls .h5 a legacy format
        ...     model.save("m.h5")
        >>> with KerasFile("m.h5") as f:
        ...     [(name.split("/")[:2], name.split("/")[-1].replace(":0", "")) for name in f.names()]
        [(['model_weights', 'out'], 'bias'), (['model_weights', 'out'], 'kernel')]
        """
        return list(self._need_weights())

    def variables(self) -> list[tuple[str, str, tuple[int, ...], int]]:
        """``(name, dtype, shape, bytes)`` of every variable, sorted by name.

        *dtype* is NumPy's name (``float32``, ``bool``, ``bfloat16``), *bytes*
        the size of the array :meth:`get_tensor` returns.

        >>> import tensorflow as tf
        >>> model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Embedding(5, 3)])
        >>> model.save_weights("e.weights.h5")
        >>> with KerasFile("e.weights.h5") as f:
        ...     [(dtype, shape, size) for _, dtype, shape, size in f.variables()]
        [('float32', (5, 3), 60)]
        """
        return [
            (v.path, "bfloat16" if v.bfloat16 else v.dtype.name, v.shape, v.nbytes)
            for v in self._need_weights().values()
        ]

    def get_tensor(self, name: str) -> np.ndarray:
        """The value of variable *name*, a NumPy array in native byte order.

        An unknown name raises :class:`~tfpersist.errors.TensorNotFoundError`
        with the nearest names.

        >>> import numpy as np, tensorflow as tf
        >>> model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)])
        >>> model.layers[-1].bias.assign([0.5])
        <...>
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")  # Keras calls .h5 a legacy format
        ...     model.save("m.h5")
        >>> with KerasFile("m.h5") as f:
        ...     bias = [n for n in f.names() if "bias" in n][0]
        ...     f.get_tensor(bias).tolist()
        [0.5]
        >>> with KerasFile("m.h5") as f:
        ...     f.get_tensor(bias.replace("bias", "bais"))
        Traceback (most recent call last):
        ...
        tfpersist.errors.TensorNotFoundError: 'm.h5' has no variable '...bais...' (did you mean '...bias...'?); ...
        """
        import h5py
        import numpy as np

        variables = self._need_weights()
        var = variables.get(name)
        if var is None:
            raise TensorNotFoundError(
                f"{self.path!r} has no variable {name!r}{did_you_mean(name, variables)}; "
                "list them with KerasFile.names() or `tfpersist inspect`"
            )
        value = np.empty(var.shape, dtype=var.dtype)
        with self._guarded(name):
            if var.nbytes:
                dataset = h5py.Dataset(h5py.h5o.open(self._h5.id, name.encode("utf-8")))
                dataset.read_direct(value)
        if var.bfloat16:
            import ml_dtypes

            value = value.view(ml_dtypes.bfloat16)
        return value

    def layer_weights(self) -> list[tuple[str, list[str]]]:
        """The variable names grouped by the object they belong to, in the order Keras loads them.

        Each entry is ``(group, names)``: the HDF5 path of a layer (or of the
        optimizer, or of the metrics) and the paths of its weights, in the
        order the layer creates them. Objects without weights are left out,
        as Keras leaves them out when it matches layers by position.

        * ``legacy`` (``.h5``): the layers in the order of the
          ``layer_names`` attribute and each layer's weights in the order of
          its ``weight_names``, which is how Keras loads them; then
          ``top_level_model_weights`` and ``optimizer_weights``, when they
          hold weights.
        * ``keras3`` and ``keras2.12``: Keras walks the model (the layers in
          the model's order, then the other attributes sorted by name, each
          object before the objects inside it) and reads each object's
          ``vars`` group, numbered ``0, 1, 2, ...``; it walks the same way
          when it saves, making each group as it comes to it. HDF5 lists a
          group's members sorted by name, but the group's local heap keeps
          their names in the order they were made, so tfpersist reads that
          order from the heap and walks the groups in it: the walk Keras
          makes. The model's own variables come first, under the group
          ``""``. A file not written by Keras whose order cannot be read
          that way is walked in creation order when HDF5 tracks it, else by
          name with numbers in numeric order (``dense_2`` before
          ``dense_10``).

        >>> import tensorflow as tf
        >>> model = tf.keras.Sequential([
        ...     tf.keras.Input((3,)),
        ...     tf.keras.layers.Dense(4, name="z_first"),
        ...     tf.keras.layers.BatchNormalization(name="a_second"),
        ... ])
        >>> model.save_weights("m.weights.h5")
        >>> with KerasFile("m.weights.h5") as f:
        ...     [(group.split("/")[-1], len(names)) for group, names in f.layer_weights()]
        [('dense', 2), ('batch_normalization', 4)]
        """
        self._need_weights()
        if self.layout == "legacy":
            return self._legacy_groups()
        return self._walked_groups()

    def _legacy_groups(self) -> list[tuple[str, list[str]]]:
        import h5py

        variables = self._need_weights()
        root = self._h5.id
        top = self._below(root, "")
        prefix = "model_weights/" if "model_weights" in top else ""
        with self._guarded(prefix):
            container = h5py.h5o.open(root, b"model_weights") if prefix else root
        layers = self._text_list(container, prefix, "layer_names")
        if layers is None:
            raise self._error(
                f"{prefix or '/'!r} has no layer_names attribute, which Keras writes in every "
                ".h5 file; the file is damaged or was not written by Keras"
            )
        wanted = [prefix + layer for layer in layers]
        if "top_level_model_weights" in self._below(container, prefix):
            wanted.append(prefix + "top_level_model_weights")
        if "optimizer_weights" in top:
            wanted.append("optimizer_weights")
        groups = []
        for group in wanted:
            try:
                with self._guarded(group):
                    gid = h5py.h5o.open(root, group.encode("utf-8"))
            except KerasFileError as e:
                raise self._error(
                    f"layer_names lists {group!r}, which the file does not have; the file is "
                    "damaged"
                ) from e
            paths = [f"{group}/{n}" for n in self._text_list(gid, group, "weight_names") or []]
            missing = [p for p in paths if p not in variables]
            if missing:
                raise self._error(
                    f"weight_names of {group!r} lists {missing[0]!r}, which the file does not "
                    "have; the file is damaged"
                )
            if paths:
                groups.append((group, paths))
        return groups

    def _below(self, gid: Any, path: str) -> set[str]:
        with self._guarded(path):
            raw = list(gid)
        return {self._decode(n, path) for n in raw}

    def _walked_groups(self) -> list[tuple[str, list[str]]]:
        import h5py

        variables = self._need_weights()
        groups: list[tuple[str, list[str]]] = []
        seen: set[int] = set()
        # Depth first, each group's members in the order they were made.
        stack: list[Iterator[tuple[str, Any]]] = [iter([("", self._h5.id)])]
        while stack:
            item = next(stack[-1], None)
            if item is None:
                stack.pop()
                continue
            path, gid = item
            with self._guarded(path):
                address = self._address(gid)
            if address in seen:
                continue
            seen.add(address)
            children = []
            for raw in self._children(gid, path):
                name = self._decode(raw, path)
                full = f"{path}/{name}" if path else name
                with self._guarded(full):
                    child = h5py.h5o.open(gid, raw)
                    is_group = h5py.h5o.get_info(child).type == h5py.h5o.TYPE_GROUP
                if not is_group:
                    continue
                if name == "vars":
                    held = [
                        f"{full}/{n.decode('utf-8')}"
                        for n in self._children(child, full)
                        if f"{full}/{n.decode('utf-8', 'replace')}" in variables
                    ]
                    if all(h.rsplit("/", 1)[1].isdigit() for h in held):
                        held.sort(key=lambda h: int(h.rsplit("/", 1)[1]))
                    if held:
                        groups.append((path, held))
                    continue
                children.append((full, child))
            stack.append(iter(children))
        return groups

    def verify_crc(self) -> None:
        """Check the CRC-32 the archive records for its uncompressed weights member.

        Opening a ``.keras`` file with its weights does this first, so that a
        changed byte is reported as one. A ``.weights.h5`` or ``.h5`` file
        records no checksum, and a compressed member is checked as it is read:
        for them this does nothing. A mismatch raises
        :class:`~tfpersist.errors.KerasFileError`.

        >>> import tensorflow as tf
        >>> from tfpersist.keras_models import save_keras_model
        >>> model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
        >>> _ = save_keras_model(model, "m.keras")
        >>> with KerasFile("m.keras") as f:
        ...     f.verify_crc()
        """
        import zlib

        if self._crc is None or self._source is None:
            return
        start, size, expected = self._crc
        crc, offset = 0, 0
        while offset < size:
            chunk = self._source.pread(start + offset, min(_CHUNK, size - offset))
            if not chunk:
                break
            crc = zlib.crc32(chunk, crc)
            offset += len(chunk)
        if offset != size or crc != expected:
            raise self._error(
                f"member {WEIGHTS_MEMBER!r} fails its CRC-32 check: its bytes changed after "
                "Keras wrote them; copy the file again"
            )

    def close(self) -> None:
        """Close the file; a ``with`` block does it."""
        for thing in (self._h5, self._member, self._archive, self._source):
            if thing is not None:
                with contextlib.suppress(Exception):  # closing what failed to open
                    thing.close()
        self._h5 = self._member = self._archive = self._source = None

    def __del__(self) -> None:
        if getattr(self, "_source", None) is not None:
            self.close()

    def __enter__(self) -> KerasFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"KerasFile({self.path!r}, kind={self.kind!r}, layout={self.layout!r})"


def _attribute_names(oid: Any, h5py: Any) -> list[bytes]:
    names: list[bytes] = []

    def collect(name: bytes, *_: Any) -> None:
        names.append(name)

    h5py.h5a.iterate(oid, collect)
    return names


class _Guard:
    """Turn what h5py raises for a bad file into a :class:`~tfpersist.errors.KerasFileError`."""

    def __init__(self, owner: KerasFile, where: str) -> None:
        self.owner, self.where = owner, where

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, e: BaseException | None, tb: Any) -> None:
        if e is None or isinstance(e, TfPersistError):
            return
        if isinstance(e, (OSError, KeyError, ValueError, RuntimeError, TypeError, MemoryError)):
            raise self.owner._h5_error(self.where, e) from e
