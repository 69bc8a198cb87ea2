#!/usr/bin/env python3
"""Per-op cost of FUSE daemons: the requests the kernel sends (counted by the kernel's
fuse:fuse_request_send tracepoint in a private ftrace instance, filtered to the mount's
connection) and the syscalls the daemon makes (strace -c -f -p), per operation.

Usage: requests.py --workdir DIR --spec NAME=ARGV ... [--n N] [--out FILE.md]
ARGV is a shell-quoted command with {backing} and {mnt} placeholders."""

from __future__ import annotations

import argparse
import collections
import os
import random
import re
import shlex
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mounts import Mount, MountSpec, PidLog  # noqa: E402

TRACING = "/sys/kernel/tracing"
OPNAME = re.compile(r"opcode \d+ \((\w+)\)")


class RequestTrace:
    """A private ftrace instance counting fuse_request_send events of one connection."""

    def __init__(self, st_dev: int):
        # The tracepoint prints the kernel's dev_t: major << 20 | minor.
        self.conn = (os.major(st_dev) << 20) | os.minor(st_dev)
        self.path = tempfile.mkdtemp(prefix="splicefs-req-", dir=f"{TRACING}/instances")
        os.rmdir(self.path)
        os.mkdir(self.path)  # mkdir in instances/ creates the instance
        ev = f"{self.path}/events/fuse/fuse_request_send"
        with open(f"{ev}/filter", "w") as f:
            f.write(f"connection == {self.conn}")
        with open(f"{self.path}/buffer_size_kb", "w") as f:
            f.write("16384")
        with open(f"{ev}/enable", "w") as f:
            f.write("1")

    def take(self) -> collections.Counter:
        """Counts by opcode name since the last take(), and clears the buffer."""
        with open(f"{self.path}/trace") as f:
            text = f.read()
        with open(f"{self.path}/trace", "w") as f:
            f.write("")
        return collections.Counter(m.group(1).removeprefix("FUSE_") for m in OPNAME.finditer(text))

    def close(self) -> None:
        with open(f"{self.path}/events/fuse/fuse_request_send/enable", "w") as f:
            f.write("0")
        os.rmdir(self.path)


class Strace:
    """strace -c -f of a running daemon; stop() returns the total number of syscalls."""

    def __init__(self, pid: int):
        self.out = tempfile.mktemp(prefix="splicefs-strace-")
        self.proc = subprocess.Popen(["strace", "-c", "-f", "-q", "-o", self.out, "-p", str(pid)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # attached to every thread

    def stop(self) -> tuple[int, dict[str, int]]:
        self.proc.send_signal(2)
        self.proc.wait(timeout=30)
        calls: dict[str, int] = {}
        total = 0
        with open(self.out) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                    n = int(parts[3])
                    calls[parts[-1]] = n
                elif parts and parts[-1] == "total":
                    total = int(parts[3])
        os.unlink(self.out)
        return total, calls


def phases(root: str, n: int, big: int):
    """(name, ops, callable, remount_before) in order; each callable works under root."""
    names = [os.path.join(root, "d", f"f{i:06d}") for i in range(n)]

    def create():
        for p in names:
            os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))

    def stat():
        for p in names:
            os.stat(p)

    def listing():
        with os.scandir(os.path.join(root, "d")) as it:
            assert sum(1 for _ in it) == n

    def unlink():
        for p in names:
            os.unlink(p)

    def read4k():
        fd = os.open(os.path.join(root, "data"), os.O_RDONLY)
        rnd = random.Random(1)
        for _ in range(n):
            os.pread(fd, 4096, rnd.randrange(0, 64 * 256) * 4096)
        os.close(fd)

    def write4k():
        fd = os.open(os.path.join(root, "w4k"), os.O_WRONLY | os.O_CREAT, 0o644)
        block = b"x" * 4096
        for i in range(n):
            os.pwrite(fd, block, i * 4096)
        os.close(fd)

    def write1m():
        fd = os.open(os.path.join(root, "w1m"), os.O_WRONLY | os.O_CREAT, 0o644)
        block = b"y" * (1 << 20)
        for i in range(big):
            os.pwrite(fd, block, i << 20)
        os.close(fd)

    return [
        ("create (open O_CREAT|O_EXCL + close)", n, create, False),
        ("stat after a remount", n, stat, True),
        ("list (scandir)", 1, listing, False),
        ("unlink", n, unlink, False),
        ("4 KiB random read, cold", n, read4k, True),
        ("4 KiB write", n, write4k, False),
        ("1 MiB write", big, write1m, False),
    ]


def measure(spec: MountSpec, workdir: str, n: int, big: int, pidlog: PidLog) -> list[dict]:
    base = tempfile.mkdtemp(prefix=f"{spec.name}-", dir=workdir)
    backing, mnt = os.path.join(base, "backing"), os.path.join(base, "mnt")
    os.mkdir(backing)
    os.mkdir(mnt)
    os.mkdir(os.path.join(backing, "d"))
    with open(os.path.join(backing, "data"), "wb") as f:
        f.write(os.urandom(64 << 20))
    rows = []
    with Mount(spec, backing, mnt, os.path.join(base, "log"), pidlog) as m:
        for name, ops, fn, remount in phases(mnt, n, big):
            if remount:
                m.remount()
            trace = RequestTrace(os.stat(mnt).st_dev)
            st = Strace(m.pid)
            try:
                fn()
                time.sleep(0.3)  # FORGETs and RELEASEs the kernel sends late
            finally:
                total, calls = st.stop()
                reqs = trace.take()
                trace.close()
            nreq = sum(reqs.values())
            rows.append({
                "daemon": spec.name, "phase": name, "ops": ops, "requests": dict(reqs),
                "req_per_op": nreq / ops, "syscalls_per_op": total / ops,
                "syscalls_per_req": total / nreq if nreq else 0.0,
                "top": sorted(calls.items(), key=lambda kv: -kv[1])[:6],
            })
    return rows


def table(rows: list[dict]) -> str:
    out = ["| op | daemon | requests per op (by opcode) | syscalls per request | syscalls per op |",
           "|---|---|---|---|---|"]
    for r in rows:
        by = ", ".join(f"{k} {v / r['ops']:.2f}" for k, v in sorted(r["requests"].items(), key=lambda kv: -kv[1])
                       if v / r["ops"] >= 0.01)
        out.append(f"| {r['phase']} | {r['daemon']} | {r['req_per_op']:.2f} ({by}) | "
                   f"{r['syscalls_per_req']:.1f} | {r['syscalls_per_op']:.1f} |")
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--spec", action="append", default=[], help="NAME=ARGV")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--big", type=int, default=64)
    ap.add_argument("--pidlog")
    ap.add_argument("--out")
    ap.add_argument("--syscalls", action="store_true", help="also print the top syscalls per row")
    a = ap.parse_args()
    pidlog = PidLog(a.pidlog)
    rows: list[dict] = []
    for s in a.spec:
        name, _, cmd = s.partition("=")
        rows += measure(MountSpec(name, shlex.split(cmd)), a.workdir, a.n, a.big, pidlog)
    text = table(rows)
    if a.syscalls:
        text += "\n" + "\n".join(f"- {r['daemon']} / {r['phase']}: " +
                                 ", ".join(f"{k} {v / r['ops']:.2f}" for k, v in r["top"]) for r in rows) + "\n"
    sys.stdout.write(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
