"""The `splice` package feels native: docstrings and signatures, the type stub, version,
os.PathLike paths, fileno() objects, OSError subclasses (run by CTest with PYTHONPATH set, and
by tests/python/pip_wheel.sh against a pip-installed wheel)."""
import ast
import errno
import inspect
import os
import pathlib
import pydoc
import re

import pytest

import splice

ROOT = pathlib.Path(__file__).resolve().parents[2]
PUBLIC_FUNCTIONS = ("splice", "tee", "sendfile", "copy_range", "copy_file")


def test_every_function_documented_with_its_signature():
    for name in PUBLIC_FUNCTIONS:
        fn = getattr(splice, name)
        assert fn.__doc__ and len(fn.__doc__.strip().splitlines()) >= 3, name
        assert fn.__module__ == "splice", name
        assert "self" not in inspect.signature(fn).parameters, name
    assert list(inspect.signature(splice.splice).parameters) == ["out", "in_", "offset", "nbytes", "flags"]
    assert inspect.signature(splice.splice).parameters["flags"].default == 0
    assert list(inspect.signature(splice.copy_file).parameters) == ["src", "dst"]
    assert splice.__doc__ and splice.CopyResult.__doc__


def test_help_explains_offset_eof_and_flags():
    text = pydoc.render_doc(splice.splice, renderer=pydoc.plaintext)
    assert "splice(out, in_, offset, nbytes, flags=0)" in text and "PyCapsule" not in text
    for phrase in ("offset -- None", "current position", "0 at end of file", "SPLICE_F_NONBLOCK",
                   "SPLICE_F_MORE", "BlockingIOError", "OSError"):
        assert phrase in text, phrase


def test_version_is_the_projects():
    m = re.search(r"project\(splicefs VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text())
    assert m and splice.__version__ == m.group(1)


def test_stub_and_py_typed_ship_with_the_package():
    here = pathlib.Path(splice.__file__).parent
    assert (here / "py.typed").is_file()
    stub = ast.parse((here / "__init__.pyi").read_text())
    declared = {n.name for n in stub.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    declared |= {n.target.id for n in stub.body if isinstance(n, ast.AnnAssign)}
    assert set(splice.__all__) <= declared
    for name in splice.__all__:
        assert hasattr(splice, name), name


class PathLike:
    def __init__(self, path):
        self.path = path

    def __fspath__(self):
        return self.path


class HasFileno:
    def __init__(self, fd):
        self.fd = fd

    def fileno(self):
        return self.fd


def test_paths_str_bytes_pathlike(tmp_path):
    data = os.urandom(100000)
    (tmp_path / "a").write_bytes(data)
    assert splice.copy_file(PathLike(str(tmp_path / "a")), PathLike(os.fsencode(tmp_path / "b"))) == (
        len(data), "copy_file_range")
    assert splice.copy_file(os.fsencode(tmp_path / "b"), str(tmp_path / "c")).bytes == len(data)
    assert (tmp_path / "c").read_bytes() == data
    with pytest.raises(TypeError):
        splice.copy_file(3.5, tmp_path / "d")


def test_any_object_with_fileno(tmp_path):
    (tmp_path / "a").write_bytes(b"0123456789")
    fd_in = os.open(tmp_path / "a", os.O_RDONLY)
    fd_out = os.open(tmp_path / "b", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        assert splice.splice(HasFileno(fd_out), HasFileno(fd_in), 2, 5) == 5
        assert splice.copy_range(HasFileno(fd_in), 0, HasFileno(fd_out), 5, 2) == 2
    finally:
        os.close(fd_in)
        os.close(fd_out)
    assert (tmp_path / "b").read_bytes() == b"2345601"
    with pytest.raises(TypeError, match="fileno"):
        splice.splice(HasFileno(1), 2.5, None, 1)
    with pytest.raises(TypeError, match="non-integer"):
        splice.splice(HasFileno("1"), 0, None, 1)
    with pytest.raises(OverflowError):
        splice.splice(1 << 40, 0, None, 1)


def test_errors_are_oserror_subclasses_with_errno(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        splice.copy_file(tmp_path / "missing", tmp_path / "x")
    assert isinstance(e.value, OSError) and e.value.errno == errno.ENOENT and e.value.strerror
    with pytest.raises(OSError) as e:
        splice.tee(HasFileno(-1), 0, 1)
    assert e.value.errno == errno.EBADF and type(e.value) is OSError


def test_copy_result_is_a_named_tuple(tmp_path):
    (tmp_path / "a").write_bytes(b"abc")
    r = splice.copy_file(tmp_path / "a", tmp_path / "b")
    assert isinstance(r, tuple) and r == splice.CopyResult(3, "copy_file_range")
    assert r._asdict() == {"bytes": 3, "method": "copy_file_range"}
