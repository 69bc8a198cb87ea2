"""The workloads: fio jobs (a-d), the metadata helper (e) and the source-tree copy (f).
Each returns a dict of raw figures; `metric` keys are what the report compares."""

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

from mounts import CLK_TCK, Mount

HERE = os.path.dirname(os.path.abspath(__file__))
MiB = 1 << 20


@dataclass
class Sizes:
    seq_bytes: int  # (a)(b) file size
    rand_io_bytes: int  # (c) total 4 KiB random reads per run (split over jobs)
    rand_runtime: int  # (c)(d) seconds cap
    randwrite_io_bytes: int  # (d)
    meta_files: int  # (e)
    tree_src: str  # (f)


class Runner:
    """Runs child processes so that an interrupt can stop the one in flight."""

    current: subprocess.Popen | None = None

    @classmethod
    def run(cls, argv: list[str], **kw) -> tuple[str, float]:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
        cls.current = p
        try:
            out, err = p.communicate()
        except BaseException:
            cls._kill(p)  # interrupted: do not wait for a long fio run to end by itself
            raise
        finally:
            cls.current = None
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({p.returncode}): {err.strip()[-500:]}")
        return out, wall

    @staticmethod
    def _kill(p: subprocess.Popen) -> None:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    @classmethod
    def stop_current(cls) -> None:
        if cls.current:
            cls._kill(cls.current)


def fio(name: str, filename: str, rw: str, bs: str, size: int, extra: list[str] | None = None) -> dict:
    argv = [
        "fio", f"--name={name}", f"--filename={filename}", f"--rw={rw}", f"--bs={bs}", f"--size={size}",
        "--ioengine=psync", "--invalidate=0", "--group_reporting", "--output-format=json",
    ] + (extra or [])
    out, wall = Runner.run(argv)
    job = json.loads(out[out.index("{"):])["jobs"][0]
    ddir = "write" if "write" in rw else "read"
    d = job[ddir]
    return {
        "bw_mib_s": d["bw_bytes"] / MiB,
        "iops": d["iops"],
        "io_bytes": d["io_bytes"],
        "runtime_ms": d["runtime"],
        "clat_p50_us": d["clat_ns"]["percentile"].get("50.000000", 0) / 1000 if "percentile" in d["clat_ns"] else None,
        "clat_p99_us": d["clat_ns"]["percentile"].get("99.000000", 0) / 1000 if "percentile" in d["clat_ns"] else None,
        "fio_usr_cpu_pct": job["usr_cpu"],
        "fio_sys_cpu_pct": job["sys_cpu"],
        "wall_s": wall,
    }


def splicefs_stats(m: Mount) -> dict | None:
    if m.spec.kind != "splicefs":
        return None
    r = subprocess.run(["getfattr", "-n", "user.splicefs.stats", "--only-values", m.path], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    try:
        return json.loads(r.stdout)
    except ValueError:
        return {"unparsed": r.stdout[:2000]}


def _with_cpu(m: Mount, fn) -> dict:
    """Runs fn() and adds the daemon's CPU time per MiB moved (utime+stime delta)."""
    before_stats = splicefs_stats(m)
    t0 = m.cpu_ticks()
    res = fn()
    t1 = m.cpu_ticks()
    if t0 is not None and t1 is not None:
        cpu_s = (t1 - t0) / CLK_TCK
        res["daemon_cpu_s"] = cpu_s
        res["daemon_cpu_us_per_mib"] = cpu_s * 1e6 / (res["io_bytes"] / MiB) if res["io_bytes"] else None
    after_stats = splicefs_stats(m)
    if before_stats is not None or after_stats is not None:
        res["splicefs_stats_before"], res["splicefs_stats_after"] = before_stats, after_stats
    return res


def seqread(m: Mount, sz: Sizes) -> dict:
    """(a) 1 MiB sequential read: cold mount cache (fresh mount), then warm (same mount)."""
    f = os.path.join(m.path, "seq.dat")
    cold = _with_cpu(m, lambda: fio("seqread", f, "read", "1M", sz.seq_bytes))
    warm = _with_cpu(m, lambda: fio("seqread", f, "read", "1M", sz.seq_bytes))
    return {"seqread_cold": cold, "seqread_warm": warm}


def seqwrite(m: Mount, sz: Sizes) -> dict:
    """(b) 1 MiB sequential write of a new file, fsync at the end."""
    f = os.path.join(m.path, "seqwrite.dat")
    try:
        res = _with_cpu(m, lambda: fio("seqwrite", f, "write", "1M", sz.seq_bytes, ["--end_fsync=1"]))
    finally:
        _unlink_backing(m, "seqwrite.dat")
    return {"seqwrite": res}


def randread(m: Mount, sz: Sizes, jobs: int) -> dict:
    """(c) 4 KiB random reads, cold mount cache; stops at rand_io_bytes or rand_runtime."""
    f = os.path.join(m.path, "seq.dat")
    extra = [f"--numjobs={jobs}", f"--io_size={sz.rand_io_bytes // jobs}", f"--runtime={sz.rand_runtime}", "--time_based=0"]
    return {f"randread_j{jobs}": _with_cpu(m, lambda: fio("randread", f, "randread", "4k", sz.seq_bytes, extra))}


def randwrite(m: Mount, sz: Sizes) -> dict:
    """(d) 4 KiB random writes into an existing file, fsync at the end."""
    f = os.path.join(m.path, "rand.dat")
    extra = [f"--io_size={sz.randwrite_io_bytes}", f"--runtime={sz.rand_runtime}", "--time_based=0", "--end_fsync=1"]
    return {"randwrite": _with_cpu(m, lambda: fio("randwrite", f, "randwrite", "4k", sz.seq_bytes, extra))}


def meta(m: Mount, sz: Sizes) -> dict:
    """(e) create, stat warm, stat after remount, list, unlink of N files in one directory."""
    d = os.path.join(m.path, "meta")
    helper = [sys.executable, os.path.join(HERE, "metaops.py")]
    res: dict = {}
    try:
        Runner.run(["mkdir", "-p", d])
        for phase in ("create", "stat_warm", "remount", "stat_cold", "list", "unlink"):
            if phase == "remount":
                m.remount()
                continue
            out, _ = Runner.run(helper + [phase.split("_")[0], d, str(sz.meta_files)])
            r = json.loads(out)
            res[f"meta_{phase}"] = {"ops_s": r["ops"] / r["seconds"], **r}
    finally:
        shutil.rmtree(os.path.join(m.backing, "meta"), ignore_errors=True)
    return res


def tree(m: Mount, sz: Sizes) -> dict:
    """(f) cp -a a tree of small files into the mount, remount, read it back with tar.
    tar writes to a pipe we drain: GNU tar skips reading file data when the archive is /dev/null."""
    dst = os.path.join(m.path, "tree")
    src = sz.tree_src.rstrip("/")
    try:
        _, copy_s = Runner.run(["cp", "-a", src, dst])
        m.remount()
        t0 = time.perf_counter()
        p = subprocess.Popen(["tar", "-cf", "-", "-C", os.path.dirname(dst), "tree"], stdout=subprocess.PIPE)
        nbytes = 0
        try:
            while chunk := p.stdout.read(1 << 20):
                nbytes += len(chunk)
            p.wait()
        except BaseException:
            Runner._kill(p)
            raise
        finally:
            p.stdout.close()
        read_s = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(f"tar failed ({p.returncode})")
    finally:
        shutil.rmtree(os.path.join(m.backing, "tree"), ignore_errors=True)
    return {"tree_copy": {"seconds": copy_s}, "tree_read": {"seconds": read_s, "tar_bytes": nbytes}}


def _unlink_backing(m: Mount, name: str) -> None:
    try:
        os.unlink(os.path.join(m.backing, name))
    except FileNotFoundError:
        pass


def prepare_backing(backing: str, sz: Sizes) -> None:
    """Creates seq.dat (read by a, c) and rand.dat (overwritten by d) natively, then reads
    them once so the backing page cache is warm for every configuration."""
    block = os.urandom(MiB)
    for name in ("seq.dat", "rand.dat"):
        path = os.path.join(backing, name)
        if os.path.exists(path) and os.path.getsize(path) == sz.seq_bytes:
            continue
        with open(path, "wb") as f:
            for _ in range(sz.seq_bytes // MiB):
                f.write(block)
            f.flush()
            os.fsync(f.fileno())
    for name in ("seq.dat", "rand.dat"):
        with open(os.path.join(backing, name), "rb") as f:
            while f.read(MiB):
                pass
    # Warm the tree source too, so (f) compares the mounts and not the first reader.
    subprocess.run(["tar", "-cf", "-", sz.tree_src], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


# Workload groups: each runs on a fresh mount of every configuration; (function, metric keys).
GROUPS = {
    "seqread": (seqread, ["seqread_cold", "seqread_warm"]),
    "seqwrite": (seqwrite, ["seqwrite"]),
    "randread1": (lambda m, s: randread(m, s, 1), ["randread_j1"]),
    "randread4": (lambda m, s: randread(m, s, 4), ["randread_j4"]),
    "randwrite": (randwrite, ["randwrite"]),
    "meta": (meta, ["meta_create", "meta_stat_warm", "meta_stat_cold", "meta_list", "meta_unlink"]),
    "tree": (tree, ["tree_copy", "tree_read"]),
}
