"""Contract tests for the `splice` Python module (run by CTest with PYTHONPATH set)."""
import errno
import fcntl
import os
import socket
import threading

import pytest

import splice

DATA = os.urandom(3 * 1024 * 1024 + 17)


@pytest.fixture
def src(tmp_path):
    p = tmp_path / "src"
    p.write_bytes(DATA)
    return p


def fds():
    return len(os.listdir("/proc/self/fd"))


def test_constants():
    assert (splice.SPLICE_F_MOVE, splice.SPLICE_F_NONBLOCK, splice.SPLICE_F_MORE, splice.SPLICE_F_GIFT) == (
        1, 2, 4, 8)


def test_eof_returns_zero(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    with open(tmp_path / "empty", "rb") as i, open(tmp_path / "dst", "wb") as o:
        assert splice.splice(o, i, None, 4096) == 0


def test_whole_file_then_zero(src, tmp_path):
    with open(src, "rb") as i, open(tmp_path / "dst", "wb") as o:
        assert splice.splice(o, i, None, len(DATA) + 100) == len(DATA)
        assert splice.splice(o, i, None, 100) == 0
    assert (tmp_path / "dst").read_bytes() == DATA


def test_no_offset_advances_position(src, tmp_path):
    with open(src, "rb") as i, open(tmp_path / "dst", "wb") as o:
        os.lseek(i.fileno(), 1000, os.SEEK_SET)
        assert splice.splice(o.fileno(), i.fileno(), None, 5000) == 5000
        assert os.lseek(i.fileno(), 0, os.SEEK_CUR) == 6000
    assert (tmp_path / "dst").read_bytes() == DATA[1000:6000]


def test_offset_leaves_position(src, tmp_path):
    with open(src, "rb") as i, open(tmp_path / "dst", "wb") as o:
        os.lseek(i.fileno(), 7, os.SEEK_SET)
        assert splice.splice(o, i, 4096, 3000) == 3000
        assert os.lseek(i.fileno(), 0, os.SEEK_CUR) == 7
    assert (tmp_path / "dst").read_bytes() == DATA[4096:7096]


def test_partial_transfer_into_pipe(src):
    r, w = os.pipe()
    try:
        with open(src, "rb") as i:
            n = splice.splice(w, i, None, len(DATA))
            assert 0 < n <= fcntl.fcntl(w, fcntl.F_GETPIPE_SZ) < len(DATA)
            assert os.read(r, n) == DATA[:n]
    finally:
        os.close(r)
        os.close(w)


def test_eagain_on_empty_pipe(tmp_path):
    r, w = os.pipe()
    try:
        with open(tmp_path / "dst", "wb") as o:
            with pytest.raises(BlockingIOError) as e:
                splice.splice(o, r, None, 10, splice.SPLICE_F_NONBLOCK)
            assert e.value.errno == errno.EAGAIN
    finally:
        os.close(r)
        os.close(w)


def test_eagain_on_full_pipe(src):
    r, w = os.pipe()
    try:
        os.set_blocking(w, False)
        with pytest.raises(BlockingIOError):
            while True:
                os.write(w, b"x" * 4096)
        with open(src, "rb") as i:
            with pytest.raises(OSError) as e:
                splice.splice(w, i, None, 4096, flags=splice.SPLICE_F_NONBLOCK)
            assert e.value.errno == errno.EAGAIN
    finally:
        os.close(r)
        os.close(w)


def test_append_target_einval_nothing_stranded(src, tmp_path):
    with open(src, "rb") as i, open(tmp_path / "log", "ab") as bad, open(tmp_path / "dst", "wb") as good:
        with pytest.raises(OSError) as e:
            splice.splice(bad, i, None, 100000)
        assert e.value.errno == errno.EINVAL
        assert os.lseek(i.fileno(), 0, os.SEEK_CUR) == 0
        assert splice.splice(good, i, None, 1000) == 1000
    assert (tmp_path / "dst").read_bytes() == DATA[:1000]


def test_bad_fd_and_espipe(tmp_path):
    with pytest.raises(OSError) as e:
        splice.splice(-1, 0, None, 1)
    assert e.value.errno == errno.EBADF
    r, w = os.pipe()
    try:
        os.write(w, b"abc")
        with open(tmp_path / "dst", "wb") as o, pytest.raises(OSError) as e:
            splice.splice(o, r, 0, 3)
        assert e.value.errno == errno.ESPIPE
    finally:
        os.close(r)
        os.close(w)


def test_not_an_fd():
    with pytest.raises(TypeError):
        splice.splice("nope", 0, None, 1)


def test_tee_duplicates():
    a_r, a_w = os.pipe()
    b_r, b_w = os.pipe()
    try:
        os.write(a_w, b"twice")
        assert splice.tee(b_w, a_r, 100) == 5
        assert os.read(b_r, 100) == b"twice"
        assert os.read(a_r, 100) == b"twice"
        with pytest.raises(BlockingIOError):
            splice.tee(b_w, a_r, 100, splice.SPLICE_F_NONBLOCK)
    finally:
        for fd in (a_r, a_w, b_r, b_w):
            os.close(fd)


def test_sendfile_to_socket(src):
    a, b = socket.socketpair()
    got = bytearray()

    def drain():
        while chunk := b.recv(65536):
            got.extend(chunk)

    t = threading.Thread(target=drain)
    t.start()
    with a, b, open(src, "rb") as i:
        assert splice.sendfile(a, i, 10, 100000) > 0
        assert os.lseek(i.fileno(), 0, os.SEEK_CUR) == 0
        a.shutdown(socket.SHUT_WR)
        t.join()
    assert bytes(got) == DATA[10:10 + len(got)]


def test_splice_file_to_socket(src):
    a, b = socket.socketpair()
    got = bytearray()

    def drain():
        while chunk := b.recv(65536):
            got.extend(chunk)

    t = threading.Thread(target=drain)
    t.start()
    with a, b, open(src, "rb") as i:
        total = 0
        while n := splice.splice(a, i, None, 1 << 20, splice.SPLICE_F_MORE):
            total += n
        a.shutdown(socket.SHUT_WR)
        t.join()
    assert total == len(DATA)
    assert bytes(got) == DATA


def test_copy_file_methods(src, tmp_path):
    res = splice.copy_file(src, tmp_path / "dst")
    assert res.bytes == len(DATA) and res.method == "copy_file_range"
    assert (tmp_path / "dst").read_bytes() == DATA
    r, w = os.pipe()
    os.write(w, b"from a pipe")
    os.close(w)
    with open(tmp_path / "p", "wb") as o:
        n, method = splice.copy_file(r, o)
    os.close(r)
    assert (n, method) == (11, "splice")
    with open(src, "rb") as i, open(tmp_path / "log", "ab") as o:
        assert splice.copy_file(i, o).method == "read_write"
    assert (tmp_path / "log").read_bytes() == DATA


def test_copy_file_errors(src, tmp_path):
    with pytest.raises(FileNotFoundError):
        splice.copy_file(tmp_path / "missing", tmp_path / "dst")
    with pytest.raises(OSError) as e:
        splice.copy_file(str(src), str(src))
    assert e.value.errno == errno.EINVAL
    assert src.read_bytes() == DATA


def test_copy_range(src, tmp_path):
    with open(src, "rb") as i, open(tmp_path / "dst", "wb") as o:
        assert splice.copy_range(i, 100, o, 0, 1000) == 1000
        assert os.lseek(i.fileno(), 0, os.SEEK_CUR) == 0
        with pytest.raises(OSError) as e:
            splice.copy_range(i, 0, -1, 0, 10)
        assert e.value.errno == errno.EBADF
    assert (tmp_path / "dst").read_bytes() == DATA[100:1100]


def test_no_fd_leaks(src, tmp_path):
    splice.copy_file(src, tmp_path / "warm")  # the thread's internal pipe is created once
    with open(src, "rb") as i, open(tmp_path / "dst", "wb") as o:
        splice.splice(o, i, None, 10)
    before = fds()
    for _ in range(10):
        with open(src, "rb") as i, open(tmp_path / "dst", "wb") as o, open(tmp_path / "log", "ab") as bad:
            splice.splice(o, i, None, 70000)
            with pytest.raises(OSError):
                splice.splice(bad, i, None, 70000)
            splice.splice(o, i, None, 10)  # recreates the discarded internal pipe
        splice.copy_file(src, tmp_path / "copy")
        with pytest.raises(OSError):
            splice.copy_file(tmp_path / "missing", tmp_path / "copy")
    assert fds() == before
