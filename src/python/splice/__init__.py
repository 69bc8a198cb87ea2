"""Zero-copy data transfer: splice(2), tee(2), sendfile(2) and copy_file_range(2).

The classic ``splice`` module's API over splicefs's zero-copy library::

    import splice
    with open("src", "rb") as src, open("dst", "wb") as dst:
        while n := splice.splice(dst, src, None, 1 << 20):  # destination first
            pass

File descriptors are ints or objects with ``fileno()`` (files, sockets); paths
(``copy_file``) are ``str``, ``bytes`` or ``os.PathLike``. Every function returns
the bytes it moved (0 at end of file) and raises ``OSError`` (or its errno subclass:
``BlockingIOError``, ``FileNotFoundError``, ...) with the errno when the system call
fails. The flags are ``SPLICE_F_MOVE``, ``SPLICE_F_NONBLOCK``, ``SPLICE_F_MORE`` and
``SPLICE_F_GIFT`` (see splice(2)). The functions release the GIL while they run.
"""
from typing import NamedTuple

from . import _splice
from ._splice import SPLICE_F_GIFT, SPLICE_F_MORE, SPLICE_F_MOVE, SPLICE_F_NONBLOCK, __version__

__all__ = [
    "SPLICE_F_GIFT",
    "SPLICE_F_MORE",
    "SPLICE_F_MOVE",
    "SPLICE_F_NONBLOCK",
    "CopyResult",
    "copy_file",
    "copy_range",
    "sendfile",
    "splice",
    "tee",
]


class CopyResult(NamedTuple):
    """What copy_file() did: ``bytes`` copied and the ``method`` that moved them."""

    bytes: int
    method: str


CopyResult.bytes.__doc__ = "Bytes copied."
CopyResult.method.__doc__ = "'copy_file_range', 'splice', 'read_write' or 'sendfile' (the one that moved the bytes)."


def copy_file(src, dst):
    """Copy everything from src to dst inside the kernel; return a CopyResult.

    src, dst -- paths (str, bytes or os.PathLike) or open files (ints or objects
        with fileno()). A path src is opened read-only; a path dst is created or
        truncated with src's permission bits. An open file is copied from (into)
        its current position, which advances.

    The method follows what was measured on Linux 6.x (README, "What zero-copy
    does and does not do"): into a file, copy_file_range(2) first (may share
    extents or copy server-side), falling back to splice(2) through an internal
    pipe on EXDEV/EINVAL/ENOSYS/EOPNOTSUPP and to read/write for targets splice
    cannot write (O_APPEND); into a TCP socket whose peer is this host,
    read/write in 64 KiB chunks (on loopback, zero-copy costs the receiver more
    than it saves the sender); into other sockets, pipes and devices, splice(2)
    with read/write as the fallback. Returns
    ``CopyResult(bytes, method)``, which unpacks as ``n, method = copy_file(a, b)``.
    Raises OSError with the errno (FileNotFoundError, ..., EINVAL when src and dst
    are the same file).
    """
    return CopyResult(*_splice.copy_file(src, dst))


# Thin wrappers: help() and tracebacks then show plain functions of this package (pybind11's
# own objects read "method of builtins.PyCapsule instance"). The text lives in _splice.
def splice(out, in_, offset, nbytes, flags=0):
    return _splice.splice(out, in_, offset, nbytes, flags)


def tee(out, in_, nbytes, flags=0):
    return _splice.tee(out, in_, nbytes, flags)


def sendfile(out, in_, offset, nbytes):
    return _splice.sendfile(out, in_, offset, nbytes)


def copy_range(in_, off_in, out, off_out, length, flags=0):
    return _splice.copy_range(in_, off_in, out, off_out, length, flags)


for _fn in (splice, tee, sendfile, copy_range):
    _fn.__doc__ = getattr(_splice, _fn.__name__).__doc__
del _fn
