#!/usr/bin/python3
"""Two-client freshness on a shared backing: changes made through CLIENT2 (the other
machine), seen through CLIENT1 (the backing client) and through MNT (splicefs over CLIENT1).

usage: freshness.py CLIENT1 CLIENT2 MNT [ROUNDS]

For each probe the change is made through CLIENT2, then every POLL seconds the mount is asked
first and CLIENT1 right after; the first time each one shows the change is printed side by
side. Fails (exit 1) only on what correctness requires, never on speed: every change must
show through the mount, and a closed write must show at the first open through the mount
that follows CLIENT1 showing it (close-to-open: one poll later at most).
"""
import os
import stat
import sys
import time

POLL = 0.1
GIVE_UP = 20.0


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def mode(path):
    try:
        return stat.S_IMODE(os.lstat(path).st_mode)
    except FileNotFoundError:
        return None


def exists(path):
    return os.path.lexists(path)


def watch(seen_mnt, seen_c1):
    """Polls until both see the change; returns (t_mnt, t_c1, polls_mnt, polls_c1)."""
    t0 = time.monotonic()
    t_mnt = t_c1 = None
    n_mnt = n_c1 = None
    n = 0
    while (t_mnt is None or t_c1 is None) and time.monotonic() - t0 < GIVE_UP:
        n += 1
        if t_mnt is None and seen_mnt():
            t_mnt, n_mnt = time.monotonic() - t0, n
        if t_c1 is None and seen_c1():
            t_c1, n_c1 = time.monotonic() - t0, n
        if t_mnt is None or t_c1 is None:
            time.sleep(POLL)
    return t_mnt, t_c1, n_mnt, n_c1


def main():
    c1, c2, mnt = sys.argv[1:4]
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    base = f"fresh-{os.getpid()}"
    for d in (c2,):
        os.mkdir(os.path.join(d, base))
    at = {k: (lambda name, root=v: os.path.join(root, base, name)) for k, v in
          {"c1": c1, "c2": c2, "mnt": mnt}.items()}
    rows = []
    failures = []

    def record(probe, result, close_to_open=False):
        t_mnt, t_c1, n_mnt, n_c1 = result
        rows.append((probe, t_c1, t_mnt))
        if t_mnt is None:
            failures.append(f"{probe}: never seen through the mount within {GIVE_UP:.0f} s")
        elif close_to_open and n_c1 is not None and n_mnt > n_c1 + 1:
            failures.append(f"{probe}: the mount was stale at poll {n_c1 + 1}, after CLIENT1 showed "
                            f"the new contents at poll {n_c1}")

    for r in range(rounds):
        # Content after close-to-open: same length, so only the bytes (and mtime) differ.
        f = f"content{r}"
        with open(at["c2"](f), "wb") as w:
            w.write(b"old-%02d" % r)
        while read(at["mnt"](f)) != b"old-%02d" % r or read(at["c1"](f)) != b"old-%02d" % r:
            time.sleep(POLL)  # both sides now cache the old contents
        with open(at["c2"](f), "r+b") as w:
            w.write(b"new-%02d" % r)
        record("content after close", watch(lambda: read(at["mnt"](f)) == b"new-%02d" % r,
                                            lambda: read(at["c1"](f)) == b"new-%02d" % r), True)

        # Names and attributes: each probe first fills both sides' caches (a lookup of the
        # name, a stat), then changes it through CLIENT2.
        for name in (f"del{r}", f"ren{r}", f"mode{r}"):
            with open(at["c2"](name), "wb") as w:
                w.write(b"x")
            os.chmod(at["c2"](name), 0o644)
            while not exists(at["mnt"](name)) or not exists(at["c1"](name)):
                time.sleep(POLL)

        def warm(name):
            mode(at["mnt"](name))
            mode(at["c1"](name))

        warm(f"new{r}")
        with open(at["c2"](f"new{r}"), "wb") as w:
            w.write(b"y")
        record("create", watch(lambda: exists(at["mnt"](f"new{r}")), lambda: exists(at["c1"](f"new{r}"))))
        warm(f"del{r}")
        os.unlink(at["c2"](f"del{r}"))
        record("delete", watch(lambda: not exists(at["mnt"](f"del{r}")),
                               lambda: not exists(at["c1"](f"del{r}"))))
        warm(f"ren{r}")
        warm(f"ren{r}.moved")
        os.rename(at["c2"](f"ren{r}"), at["c2"](f"ren{r}.moved"))
        record("rename", watch(
            lambda: not exists(at["mnt"](f"ren{r}")) and exists(at["mnt"](f"ren{r}.moved")),
            lambda: not exists(at["c1"](f"ren{r}")) and exists(at["c1"](f"ren{r}.moved"))))
        warm(f"mode{r}")
        os.chmod(at["c2"](f"mode{r}"), 0o600)
        record("chmod", watch(lambda: mode(at["mnt"](f"mode{r}")) == 0o600,
                              lambda: mode(at["c1"](f"mode{r}")) == 0o600))

    def fmt(t):
        return "never" if t is None else f"{t:.2f}"

    print(f"{'probe':<22}{'backing client (s)':>20}{'splicefs (s)':>15}{'difference':>12}")
    for probe, t_c1, t_mnt in rows:
        diff = "-" if t_c1 is None or t_mnt is None else f"{t_mnt - t_c1:+.2f}"
        print(f"{probe:<22}{fmt(t_c1):>20}{fmt(t_mnt):>15}{diff:>12}")
    print(f"(first poll that showed the change, polls every {POLL} s, mount asked first)")
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
