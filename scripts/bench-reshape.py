#!/usr/bin/python3
"""A/B of the reshaping options' cost: a plain splicefs mount against one with --map and
--perms (and, with --baseline, a plain mount of a splicefs built without reshaping), in
rotating order over several rounds on the same backing tree. Prints a table (medians).

  cold stat   lstat of N files on a fresh mount (one LOOKUP each, reshaped in the daemon);
              also the daemon's CPU time (user+sys) for it, less sensitive to a busy machine
  ls -l       a listing with attributes of the same N files (READDIRPLUS) on a fresh mount
  fio 4k      4 KiB random read+write with O_DIRECT (every request reaches the daemon)

Run as root: scripts/bench-reshape.py --splicefs build/splicefs [--baseline OLD_BINARY]
             [--files 10000] [--rounds 5] [--fio-seconds 5]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

RESHAPED = ["--map=0/41001:@0/@42001", "--perms=0644,a+X"]


def mount(argv, backing, mnt):
    subprocess.run([*argv, "--allow-other", backing, mnt], check=True)


def umount(mnt):
    for _ in range(50):
        if subprocess.run(["fusermount3", "-u", mnt], stderr=subprocess.DEVNULL).returncode == 0:
            return
        time.sleep(0.1)
    subprocess.run(["fusermount3", "-uz", mnt])


def daemon_pid(mnt):
    """The daemon serving mnt (we started it: its command line names the mountpoint)."""
    time.sleep(0.2)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if mnt.encode() not in argv:
            continue
        try:  # the daemon holds /dev/fuse; the launcher may not have exited yet
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/fuse" for fd in os.listdir(f"/proc/{pid}/fd")):
                return int(pid)
        except OSError:
            continue
    raise RuntimeError("no daemon for " + mnt)


def cpu_seconds(pid):
    """On-CPU time of all the daemon's threads (schedstat: nanoseconds, not 10 ms ticks)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # a thread that just ended
    return total / 1e9


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def cold_stats(mnt, names):
    for n in names:
        os.lstat(os.path.join(mnt, "tree", n))


def listing(mnt):
    with os.scandir(os.path.join(mnt, "tree")) as it:
        for e in it:
            e.stat(follow_symlinks=False)


def fio(mnt, seconds):
    out = subprocess.run(
        ["fio", "--name=r", f"--filename={mnt}/data", "--rw=randrw", "--bs=4k", "--size=64m", "--direct=1",
         "--ioengine=psync", f"--runtime={seconds}", "--time_based", "--output-format=json"],
        check=True, capture_output=True, text=True).stdout
    job = json.loads(out)["jobs"][0]
    return job["read"]["iops"] + job["write"]["iops"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--splicefs", required=True)
    ap.add_argument("--baseline", help="a splicefs binary without reshaping, mounted plain")
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--fio-seconds", type=int, default=5)
    args = ap.parse_args()
    binary = os.path.abspath(args.splicefs)

    work = tempfile.mkdtemp(prefix="splicefs-bench-reshape-")
    backing, mnt = os.path.join(work, "b"), os.path.join(work, "m")
    os.mkdir(backing)
    os.mkdir(mnt)
    os.mkdir(os.path.join(backing, "tree"))
    names = [f"f{i:05d}" for i in range(args.files)]
    for n in names:
        open(os.path.join(backing, "tree", n), "w").close()
    with open(os.path.join(backing, "data"), "wb") as f:
        f.write(os.urandom(64 << 20))

    configs = [("plain", [binary]), ("map+perms", [binary, *RESHAPED])]
    if args.baseline:
        configs.insert(0, ("before", [os.path.abspath(args.baseline)]))
    results = {label: {"stat": [], "cpu": [], "ls": [], "fio": []} for label, _ in configs}
    try:
        for r in range(args.rounds):
            order = configs[r % len(configs):] + configs[:r % len(configs)]
            for label, argv in order:
                res = results[label]
                mount(argv, backing, mnt)
                try:
                    pid = daemon_pid(mnt)
                    cpu0 = cpu_seconds(pid)
                    res["stat"].append(timed(lambda: cold_stats(mnt, names)))
                    res["cpu"].append(cpu_seconds(pid) - cpu0)
                finally:
                    umount(mnt)
                mount(argv, backing, mnt)
                try:
                    res["ls"].append(timed(lambda: listing(mnt)))
                    res["fio"].append(fio(mnt, args.fio_seconds))
                finally:
                    umount(mnt)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"splicefs {binary}; {args.files} files, {args.rounds} rounds (rotating order), medians")
    print(f"map+perms = {' '.join(RESHAPED)}" + (f"; before = {args.baseline}" if args.baseline else ""))
    print(f"{'mount':<12} {'cold stat (s)':>14} {'daemon CPU (s)':>15} {'ls -l (s)':>10} "
          f"{'fio 4k O_DIRECT randrw (IOPS)':>30}")
    for label, res in results.items():
        print(f"{label:<12} {statistics.median(res['stat']):>14.3f} {statistics.median(res['cpu']):>15.4f} "
              f"{statistics.median(res['ls']):>10.3f} {statistics.median(res['fio']):>30.0f}")
    for key in ("stat", "cpu", "ls", "fio"):
        print(f"  {key} per round: " + "; ".join(f"{label} {['%.4g' % v for v in res[key]]}"
                                                  for label, res in results.items()))


if __name__ == "__main__":
    main()
