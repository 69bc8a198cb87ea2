"""Mount lifecycle for the benchmark: start a FUSE daemon, wait for the mount, find the
daemon's PID, sample its CPU time, and unmount without leaving anything behind."""

import os
import shlex
import subprocess
import time
from dataclasses import dataclass, field

CLK_TCK = os.sysconf("SC_CLK_TCK")


def is_mounted(path: str) -> bool:
    """True when `path` is a mount point (read from mountinfo, not stat, so a dead
    FUSE daemon's 'Transport endpoint is not connected' cannot hang or fool us)."""
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and _unescape(fields[4]) == path:
                return True
    return False


def _unescape(s: str) -> str:
    return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def mounts_under(root: str) -> list[str]:
    """Every mount point at or below `root`, deepest first."""
    out = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4:
                mp = _unescape(fields[4])
                if mp == root or mp.startswith(root.rstrip("/") + "/"):
                    out.append(mp)
    return sorted(out, key=len, reverse=True)


def pids_with_arg(arg: str) -> list[int]:
    """PIDs whose command line has `arg` as one exact argument (a stricter pgrep -f)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if arg.encode() in argv or arg.rstrip("/").encode() in argv:
            found.append(int(entry))
    return found


def process_tree(pid: int) -> list[int]:
    """pid and its descendants: a splicefs mount with failover (the default) is served by a
    worker, a child of the process that mounted."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children", encoding="utf-8") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            continue
    return out


def cpu_ticks(pid: int) -> int | None:
    """utime+stime of the process and its descendants (all threads, including exited ones;
    a descendant that exited is counted in its parent's only once reaped), in ticks."""
    total, seen = 0, False
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat", encoding="utf-8") as f:
                data = f.read()
        except OSError:
            continue
        rest = data[data.rindex(")") + 2 :].split()  # comm may hold spaces; fields start at 3
        total += int(rest[11]) + int(rest[12])  # fields 14 and 15
        seen = True
    return total if seen else None


def unmount(path: str) -> None:
    """fusermount3 -u, retried while busy; umount -l as the last resort."""
    for _ in range(20):
        if not is_mounted(path):
            return
        r = subprocess.run(["fusermount3", "-u", path], capture_output=True)
        if r.returncode == 0:
            return
        r = subprocess.run(["umount", path], capture_output=True)
        if r.returncode == 0:
            return
        time.sleep(0.2)
    subprocess.run(["umount", "-l", path], capture_output=True)


@dataclass
class MountSpec:
    """How to mount one configuration. `argv` holds {backing} and {mnt} placeholders."""

    name: str
    argv: list[str] = field(default_factory=list)  # empty = native (no mount)
    kind: str = "fuse"  # native | splicefs | fuse

    @property
    def native(self) -> bool:
        return not self.argv


class PidLog:
    """Appends every daemon PID we start to a file the shell trap reads on exit."""

    def __init__(self, path: str | None):
        self.path = path

    def add(self, pid: int, mnt: str) -> None:
        if self.path:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(f"{pid} {mnt}\n")


class Mount:
    """One live mount of a MountSpec (context manager). For native it is a no-op whose
    `path` is the backing directory itself."""

    def __init__(self, spec: MountSpec, backing: str, mnt: str, log_path: str, pidlog: PidLog):
        self.spec, self.backing, self.mnt = spec, backing, mnt
        self.log_path, self.pidlog = log_path, pidlog
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None

    @property
    def path(self) -> str:
        return self.backing if self.spec.native else self.mnt

    def __enter__(self) -> "Mount":
        if self.spec.native:
            return self
        if is_mounted(self.mnt):
            unmount(self.mnt)
        argv = [a.replace("{backing}", self.backing).replace("{mnt}", self.mnt) for a in self.spec.argv]
        log = open(self.log_path, "ab")
        log.write(("\n$ " + shlex.join(argv) + "\n").encode())
        log.flush()
        # Own session: a Ctrl-C at the terminal must not kill the daemons before we unmount.
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        self.pidlog.add(self.proc.pid, self.mnt)
        deadline = time.monotonic() + 20
        while not is_mounted(self.mnt):
            rc = self.proc.poll()
            if rc not in (None, 0) or time.monotonic() > deadline:
                self._stop()
                raise RuntimeError(f"{self.spec.name}: mount failed (rc={rc}), see {self.log_path}")
            time.sleep(0.02)
        self.pid = self._find_daemon()
        if self.pid and self.pid != self.proc.pid:
            self.pidlog.add(self.pid, self.mnt)
        return self

    def _find_daemon(self) -> int | None:
        """Our child if it stayed in the foreground, else the daemon it forked."""
        assert self.proc is not None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.proc.poll() is None:
                return self.proc.pid
            pids = pids_with_arg(self.mnt)
            if pids:
                return min(pids)
            time.sleep(0.05)
        return None

    def cpu_ticks(self) -> int | None:
        return cpu_ticks(self.pid) if self.pid else None

    def _stop(self) -> None:
        unmount(self.mnt)
        procs = [self.proc.pid] if self.proc else []
        if self.pid and self.pid not in procs:
            procs.append(self.pid)
        if self.proc:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # A daemonised child is not ours to wait() for: poll until it is gone, then kill by PID.
        for pid in procs:
            if self.proc and pid == self.proc.pid:
                continue
            deadline = time.monotonic() + 10
            while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
                time.sleep(0.05)
            if pid in pids_with_arg(self.mnt):  # still ours, not a recycled PID
                os.kill(pid, 9)

    def __exit__(self, *exc) -> None:
        if not self.spec.native:
            self._stop()

    def remount(self) -> None:
        """Fresh mount = cold FUSE page cache and dentry cache (backing stays warm)."""
        if not self.spec.native:
            self._stop()
            self.__enter__()
