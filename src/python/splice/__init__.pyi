# Type stub of the `splice` package (its functions are compiled; see splice_module.cpp).
import os
from typing import Final, NamedTuple, Optional, Protocol, Union

class _HasFileno(Protocol):
    def fileno(self) -> int: ...

_FileDescriptorLike = Union[int, _HasFileno]
_StrOrBytesPath = Union[str, bytes, os.PathLike[str], os.PathLike[bytes]]

__version__: Final[str]
SPLICE_F_MOVE: Final[int]
SPLICE_F_NONBLOCK: Final[int]
SPLICE_F_MORE: Final[int]
SPLICE_F_GIFT: Final[int]

def splice(
    out: _FileDescriptorLike, in_: _FileDescriptorLike, offset: Optional[int], nbytes: int, flags: int = 0
) -> int: ...
def tee(out: _FileDescriptorLike, in_: _FileDescriptorLike, nbytes: int, flags: int = 0) -> int: ...
def sendfile(out: _FileDescriptorLike, in_: _FileDescriptorLike, offset: Optional[int], nbytes: int) -> int: ...
def copy_range(
    in_: _FileDescriptorLike,
    off_in: int,
    out: _FileDescriptorLike,
    off_out: int,
    length: int,
    flags: int = 0,
) -> int: ...

class CopyResult(NamedTuple):
    bytes: int
    method: str

def copy_file(
    src: Union[_FileDescriptorLike, _StrOrBytesPath], dst: Union[_FileDescriptorLike, _StrOrBytesPath]
) -> CopyResult: ...
