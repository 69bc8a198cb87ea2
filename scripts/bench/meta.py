#!/usr/bin/env python3
"""Small-request benchmark (issue 17): 10,000 files in one directory and 4 KiB / 1 MiB I/O,
every daemon in the same run, rounds in rotating order, the median of per-round ratios to
native. Two methods per row: a Python loop (ours) and fio's filecreate/filestat/filedelete
ioengines, `ls -f` and fio psync (not ours).

Usage: meta.py --workdir DIR --config NAME=ARGV ... [--rounds 3] [--files 10000] [--out F.md]"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mounts import Mount, MountSpec, PidLog  # noqa: E402

ROWS = [
    ("create", "create (open O_CREAT|O_EXCL + close)"),
    ("stat", "stat of every file after a remount"),
    ("list", "list (scandir / ls -f)"),
    ("unlink", "unlink"),
    ("randread", "4 KiB random read, 1 job, cold mount"),
    ("write4k", "4 KiB sequential write"),
    ("seqwrite", "1 MiB sequential write + fsync"),
]
DATA_MIB = 128
SECONDS = 4.0


def rate_loop(row: str, d: str, n: int) -> float:
    """Operations (or MiB) per second of our own Python loop."""
    names = [os.path.join(d, "py", f"f{i:06d}") for i in range(n)]
    t0 = time.perf_counter()
    if row == "create":
        for p in names:
            os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        ops = n
    elif row == "stat":
        for p in names:
            os.stat(p)
        ops = n
    elif row == "list":
        with os.scandir(os.path.join(d, "py")) as it:
            ops = sum(1 for _ in it)
    elif row == "unlink":
        for p in names:
            os.unlink(p)
        ops = n
    elif row == "randread":
        fd = os.open(os.path.join(d, "data"), os.O_RDONLY)
        rnd, ops, blocks = random.Random(7), 0, DATA_MIB * 256
        while time.perf_counter() - t0 < SECONDS:
            for _ in range(256):
                os.pread(fd, 4096, rnd.randrange(blocks) * 4096)
            ops += 256
        os.close(fd)
    elif row == "write4k":
        fd = os.open(os.path.join(d, "w4k"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        block, ops = b"w" * 4096, 0
        while time.perf_counter() - t0 < SECONDS:
            for _ in range(256):
                os.write(fd, block)
            ops += 256
        os.close(fd)
    elif row == "seqwrite":
        fd = os.open(os.path.join(d, "w1m"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        block = b"s" * (1 << 20)
        for _ in range(DATA_MIB):
            os.write(fd, block)
        os.fsync(fd)
        os.close(fd)
        ops = DATA_MIB
    else:
        raise ValueError(row)
    return ops / (time.perf_counter() - t0)


def fio(args: list[str]) -> dict:
    # invalidate=0: the backing file stays in the page cache for native too (as the loop sees it).
    out = subprocess.run(["fio", "--output-format=json", "--invalidate=0", *args], capture_output=True, text=True, check=True).stdout
    return json.loads(out[out.index("{"):])["jobs"][0]


def rate_tool(row: str, d: str, n: int) -> float:
    """Operations (or MiB) per second by tools we did not write."""
    files = ["--name=m", f"--directory={d}/fio", f"--nrfiles={n}", "--filesize=4k", "--openfiles=1",
             "--fallocate=none", "--create_on_open=1"]
    if row in ("create", "stat", "unlink"):
        engine = {"create": "filecreate", "stat": "filestat", "unlink": "filedelete"}[row]
        return fio([f"--ioengine={engine}", *files])["read"]["iops"]
    if row == "list":
        t0 = time.perf_counter()
        out = subprocess.run(["ls", "-f", f"{d}/fio"], capture_output=True, check=True).stdout
        return out.count(b"\n") / (time.perf_counter() - t0)
    if row == "randread":
        j = fio(["--name=r", f"--filename={d}/data", "--rw=randread", "--bs=4k", "--ioengine=psync",
                 f"--size={DATA_MIB}M", "--time_based", f"--runtime={SECONDS}", "--randrepeat=0"])
        return j["read"]["iops"]
    if row == "write4k":
        j = fio(["--name=w4", f"--filename={d}/fw4k", "--rw=write", "--bs=4k", "--ioengine=psync",
                 f"--size={DATA_MIB}M", "--time_based", f"--runtime={SECONDS}"])
        return j["write"]["iops"]
    if row == "seqwrite":
        j = fio(["--name=w", f"--filename={d}/fw1m", "--rw=write", "--bs=1M", "--ioengine=psync",
                 f"--size={DATA_MIB}M", "--end_fsync=1"])
        return (j["write"]["io_bytes"] / (1 << 20)) / (j["job_runtime"] / 1000.0)
    raise ValueError(row)


def one_config(spec: MountSpec, workdir: str, n: int, pidlog: PidLog) -> dict[tuple[str, str], float]:
    base = tempfile.mkdtemp(prefix=f"{spec.name}-", dir=workdir)
    backing, mnt = os.path.join(base, "backing"), os.path.join(base, "mnt")
    for p in (backing, mnt, f"{backing}/py", f"{backing}/fio"):
        os.mkdir(p)
    with open(f"{backing}/data", "wb") as f:
        for _ in range(DATA_MIB):
            f.write(os.urandom(1 << 20))
    res: dict[tuple[str, str], float] = {}
    with Mount(spec, backing, mnt, f"{base}/log", pidlog) as m:
        for method, fn in (("loop", rate_loop), ("tools", rate_tool)):
            for row, _ in ROWS:
                if row in ("stat", "randread"):
                    m.remount()  # cold FUSE caches (the backing stays warm, as for native)
                res[(row, method)] = fn(row, m.path, n)
    subprocess.run(["rm", "-rf", "--one-file-system", base], check=False)
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--config", action="append", default=[], help="NAME=ARGV ({backing} {mnt}); native is implied")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--pidlog")
    ap.add_argument("--out")
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    specs = [MountSpec("native", [], "native")]
    for c in a.config:
        name, _, cmd = c.partition("=")
        specs.append(MountSpec(name, shlex.split(cmd)))
    pidlog = PidLog(a.pidlog)
    ratios: dict[tuple[str, str, str], list[float]] = {}
    raw: list[dict] = []
    load = []
    for r in range(a.rounds):
        order = specs[r % len(specs):] + specs[:r % len(specs)]
        per = {}
        load.append(os.getloadavg()[0])
        for s in order:
            print(f"[meta] round {r + 1}/{a.rounds}: {s.name}", file=sys.stderr, flush=True)
            per[s.name] = one_config(s, a.workdir, a.files, pidlog)
        for s in specs[1:]:
            for key, v in per[s.name].items():
                ratios.setdefault((s.name, *key), []).append(v / per["native"][key])
        raw.append({k: {f"{row}/{meth}": v for (row, meth), v in d.items()} for k, d in per.items()})
    names = [s.name for s in specs[1:]]
    peers = [n for n in names if not n.startswith("splicefs")]
    lines = [f"{a.label} {a.rounds} rounds, {a.files} files, load average at round starts: "
             + ", ".join(f"{x:.1f}" for x in load), "",
             "| row | method | " + " | ".join(names) + " | splicefs / best peer |",
             "|---|---|" + "---|" * (len(names) + 1)]
    for row, title in ROWS:
        for method in ("loop", "tools"):
            med = {n: statistics.median(ratios[(n, row, method)]) for n in names}
            best = max(peers, key=lambda n: med[n]) if peers else None
            cells = [f"**{med[n]:.2f}**" if n == best else f"{med[n]:.2f}" for n in names]
            lead = f"{med['splicefs'] / med[best]:.2f}" if best and "splicefs" in med else "-"
            lines.append(f"| {title} | {method} | " + " | ".join(cells) + f" | {lead} |")
    native = {key: statistics.median([rd["native"][f"{key[0]}/{key[1]}"] for rd in raw])
              for key in [(row, m) for row, _ in ROWS for m in ("loop", "tools")]}
    lines += ["", "Native rates (median): " + ", ".join(f"{r}/{m} {v:,.0f}" for (r, m), v in native.items())]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
        with open(a.out + ".json", "w") as f:
            json.dump({"raw": raw, "load": load}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
