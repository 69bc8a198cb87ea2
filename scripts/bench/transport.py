#!/usr/bin/python3
"""splicefs --transport=dev vs --transport=uring, same run, rotating order.

Rows: 4 KiB random read (O_DIRECT: every read reaches the daemon; 1 and 4 jobs), metadata
(create, stat after a remount, list, unlink over N files in one directory), sequential 1 MiB
write (+fsync) and cold read. Per row and transport: the median over rounds, the median of the
per-round ratios to the first configuration, and the daemon's CPU per request (CPU time of
all its threads over the row, from schedstat, / the requests its stats counted). Also the
daemon-side choice for READ into ring memory: pread vs an io_uring read into a registered
buffer, measured on the backing file.
Run through scripts/bench-transport.sh (root; turns the fuse module's enable_uring on and
puts it back).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from mounts import process_tree

SWITCH = "/sys/module/fuse/parameters/enable_uring"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def mounted(path):
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


# name -> (--transport value, extra environment, extra arguments)
CONFIGS = {"dev": ("dev", {}, []), "uring": ("uring", {}, []),
           "uring-nopin": ("uring", {"SPLICEFS_URING_PIN": "0"}, []),
           # kernel passthrough of opened files beside the rings: data bypasses both transports
           "uring-passthrough": ("uring", {}, ["--data-path=passthrough"]),
           # /dev/fuse with the serving thread's spin before sleeping (off by default)
           "dev-spin": ("dev", {}, ["--spin-us=200"])}


class Daemon:
    def __init__(self, binary, config, backing, mnt, cpus, logfile):
        self.mnt = mnt
        transport, env, extra = CONFIGS[config]
        argv = [binary, "-f", f"--transport={transport}", *extra, "--log-file", logfile, backing, mnt]
        if cpus:
            argv = ["taskset", "-c", cpus] + argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=dict(os.environ, **env))
        for _ in range(200):
            if mounted(mnt):
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"splicefs exited with {self.proc.returncode}; see {logfile}")
            time.sleep(0.02)
        else:
            raise RuntimeError("splicefs did not mount")
        os.stat(mnt)  # INIT done, rings (if any) registered by the first requests after it

    def pids(self):
        """The daemon and its children: with failover (the default on /dev/fuse) the process
        started is the supervisor, and the requests are served by its worker."""
        return process_tree(self.proc.pid)

    def cpu(self):
        """Seconds on CPU of every daemon thread (schedstat: nanosecond resolution)."""
        total = 0
        for pid in self.pids():
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except (FileNotFoundError, ProcessLookupError):
                continue
            for tid in tids:
                try:
                    with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                        total += int(f.read().split()[0])
                except (FileNotFoundError, ProcessLookupError):
                    pass  # a pool thread that just ended
        return total / 1e9

    def requests(self):
        raw = os.getxattr(self.mnt, "user.splicefs.stats")
        ops = json.loads(raw).get("ops", {})
        return sum(v.get("calls", 0) for v in ops.values())

    def stop(self):
        subprocess.run(["fusermount3", "-u", self.mnt], check=False)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            subprocess.run(["umount", "-l", self.mnt], check=False)


def measured(d, fn):
    """Runs fn() -> (amount, seconds); returns (amount/seconds, daemon CPU us per request)."""
    c0, r0 = d.cpu(), d.requests()
    amount, seconds = fn()
    c1, r1 = d.cpu(), d.requests()
    reqs = max(1, r1 - r0 - 1)  # minus the stats read itself
    return amount / seconds, (c1 - c0) * 1e6 / reqs


def fio(args):
    out = subprocess.run(["fio", "--output-format=json"] + args, check=True, capture_output=True, text=True)
    job = json.loads(out.stdout)["jobs"][0]
    return job


def randread(d, path, jobs, seconds):
    def run():
        j = fio(["--name=rr", f"--filename={path}", "--rw=randread", "--bs=4k", "--direct=1",
                 "--ioengine=psync", f"--numjobs={jobs}", "--group_reporting", "--time_based",
                 f"--runtime={seconds}", "--norandommap"])
        return j["read"]["total_ios"], j["read"]["runtime"] / 1000.0
    return measured(d, run)


def seqwrite(d, path, size_mb):
    def run():
        t0 = time.monotonic()
        fio(["--name=sw", f"--filename={path}", "--rw=write", "--bs=1M", f"--size={size_mb}M",
             "--ioengine=psync", "--end_fsync=1"])
        return size_mb, time.monotonic() - t0
    return measured(d, run)


def seqread(d, path, size_mb):
    def run():
        t0 = time.monotonic()
        fio(["--name=sr", f"--filename={path}", "--rw=read", "--bs=1M", f"--size={size_mb}M",
             "--ioengine=psync"])
        return size_mb, time.monotonic() - t0
    return measured(d, run)


def timed(fn, n):
    t0 = time.monotonic()
    fn()
    return n, time.monotonic() - t0


def create(d, dirpath, n):
    def run():
        for i in range(n):
            os.close(os.open(f"{dirpath}/f{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    return measured(d, lambda: timed(run, n))


def stat_all(d, dirpath, n):
    return measured(d, lambda: timed(lambda: [os.stat(f"{dirpath}/f{i}") for i in range(n)], n))


def list_dir(d, dirpath, n):
    def run():
        with os.scandir(dirpath) as it:
            assert sum(1 for _ in it) == n
    return measured(d, lambda: timed(run, n))


def unlink_all(d, dirpath, n):
    return measured(d, lambda: timed(lambda: [os.unlink(f"{dirpath}/f{i}") for i in range(n)], n))


ROWS = [("randread 4 KiB, 1 job", "IOPS"), ("randread 4 KiB, 4 jobs", "IOPS"),
        ("create", "files/s"), ("stat after remount", "files/s"), ("list (scandir)", "names/s"),
        ("unlink", "files/s"), ("seq write 1 MiB + fsync", "MiB/s"), ("seq read 1 MiB, cold", "MiB/s")]


def one_round(binary, transport, work, a, logfile):
    backing, mnt = f"{work}/backing", f"{work}/mnt"
    res = {}

    def mount():
        return Daemon(binary, transport, backing, mnt, a.daemon_cpus, logfile)

    d = mount()
    try:
        res[ROWS[0][0]] = randread(d, f"{mnt}/rand", 1, a.seconds)
        res[ROWS[1][0]] = randread(d, f"{mnt}/rand", 4, a.seconds)
        os.mkdir(f"{mnt}/meta")
        res[ROWS[2][0]] = create(d, f"{mnt}/meta", a.files)
        res[ROWS[6][0]] = seqwrite(d, f"{mnt}/seq", a.size_mb)
    finally:
        d.stop()
    d = mount()  # cold: names, attributes and pages unknown to the kernel
    try:
        res[ROWS[3][0]] = stat_all(d, f"{mnt}/meta", a.files)
        res[ROWS[4][0]] = list_dir(d, f"{mnt}/meta", a.files)
        res[ROWS[5][0]] = unlink_all(d, f"{mnt}/meta", a.files)
        os.rmdir(f"{mnt}/meta")
        res[ROWS[7][0]] = seqread(d, f"{mnt}/seq", a.size_mb)
    finally:
        d.stop()
    os.unlink(f"{backing}/seq")
    return res


def backing_read_engines(path, seconds):
    """pread(2) vs io_uring READ_FIXED into a registered buffer, 4 KiB, cached file, depth 1."""
    out = {}
    for name, args in (("pread (psync)", ["--ioengine=psync"]),
                       ("io_uring, registered buffer", ["--ioengine=io_uring", "--fixedbufs",
                                                        "--registerfiles", "--iodepth=1"])):
        j = fio(["--name=eng", f"--filename={path}", "--rw=randread", "--bs=4k", "--time_based", "--invalidate=0",
                 f"--runtime={seconds}", "--norandommap"] + args)
        cpu_us = (j["usr_cpu"] + j["sys_cpu"]) / 100.0 * j["read"]["runtime"] * 1000.0 / max(1, j["read"]["total_ios"])
        out[name] = (j["read"]["iops"], j["read"]["clat_ns"]["mean"] / 1000.0, cpu_us)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--files", type=int, default=5000)
    p.add_argument("--size-mb", type=int, default=512)
    p.add_argument("--daemon-cpus", default="", help="taskset -c list for the daemon")
    p.add_argument("--tmpdir", default="/tmp")
    p.add_argument("--configs", default="dev,uring", help=",".join(CONFIGS) + " (first = the base)")
    a = p.parse_args()

    work = tempfile.mkdtemp(prefix="splicefs-bt.", dir=a.tmpdir)
    os.mkdir(f"{work}/backing")
    os.mkdir(f"{work}/mnt")
    logfile = f"{work}/splicefs.log"
    with open(f"{work}/backing/rand", "wb") as f:
        for _ in range(256):
            f.write(os.urandom(1 << 20))
    order = a.configs.split(",")
    for c in order:
        if c not in CONFIGS:
            sys.exit(f"unknown config {c}; known: {', '.join(CONFIGS)}")
    results = {c: [] for c in order}
    try:
        for r in range(a.rounds):
            for t in order[r % len(order):] + order[:r % len(order)]:
                log(f"round {r + 1}/{a.rounds}: {t}")
                results[t].append(one_round(a.binary, t, work, a, logfile))
        engines = backing_read_engines(f"{work}/backing/rand", a.seconds)
    finally:
        for m in (f"{work}/mnt",):
            if mounted(m):
                subprocess.run(["umount", "-l", m], check=False)
        subprocess.run(["rm", "-rf", work], check=False)

    with open(SWITCH) as f:
        switch = f.read().strip()
    print(f"## splicefs transports, {a.rounds} rounds, {os.cpu_count()} CPUs"
          f"{', daemon on CPUs ' + a.daemon_cpus if a.daemon_cpus else ''}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; enable_uring={switch} during the run\n")
    base, others = order[0], order[1:]
    print(f"| row | unit | {' | '.join(order)} | "
          + " | ".join(f"{o}/{base} (median of rounds)" for o in others) + " | "
          + " | ".join(f"{c} CPU µs/req" for c in order) + " |")
    print("|---|---|" + "---|" * (2 * len(order) + len(others)))
    for row, unit in ROWS:
        val = {c: [x[row][0] for x in results[c]] for c in order}
        cpu = {c: [x[row][1] for x in results[c]] for c in order}
        cells = [f"{statistics.median(val[c]):,.0f}" for c in order]
        cells += [f"{statistics.median(u / d for u, d in zip(val[o], val[base])):.2f}" for o in others]
        cells += [f"{statistics.median(cpu[c]):.1f}" for c in order]
        print(f"| {row} | {unit} | " + " | ".join(cells) + " |")
    print("\nREAD into ring memory, on the backing file (4 KiB random, cached, depth 1, fio):\n")
    print("| engine | IOPS | mean latency µs | CPU µs/read |")
    print("|---|---|---|---|")
    for name, (iops, lat, cpu) in engines.items():
        print(f"| {name} | {iops:,.0f} | {lat:.2f} | {cpu:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
