#!/usr/bin/env python3
"""splicefs benchmark driver (stdlib only). Normally started by scripts/bench.sh, which
installs the tools, builds splicefs, creates the work dir and owns the cleanup trap."""

import argparse
import datetime
import os
import platform
import shlex
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import report  # noqa: E402
import workloads  # noqa: E402
from mounts import Mount, MountSpec, PidLog, mounts_under, unmount  # noqa: E402

MiB = 1 << 20
QUICK = workloads.Sizes(256 * MiB, 32 * MiB, 5, 16 * MiB, 2000, "/usr/include/c++")
FULL = workloads.Sizes(1024 * MiB, 256 * MiB, 30, 64 * MiB, 10000, "/usr/include")
DEFAULT_CONFIGS = ["native", "splicefs", "splicefs-nosplice", "splicefs-nocache", "splicefs-nocache-dio",
                   "splicefs-passthrough", "bindfs", "mergerfs"]
QUICK_CONFIGS = DEFAULT_CONFIGS


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def specs(splicefs: str | None, extras: list[str]) -> dict[str, MountSpec]:
    s = {"native": MountSpec("native", [], "native")}
    if splicefs:
        base = [splicefs, "-f", "{backing}", "{mnt}"]
        s["splicefs"] = MountSpec("splicefs", base, "splicefs")
        s["splicefs-nosplice"] = MountSpec("splicefs-nosplice", base + ["--no-splice"], "splicefs")
        # --cache=never with the page cache kept within an open (its default before direct I/O),
        # and with direct I/O (its default since mmap works through FUSE_DIRECT_IO_ALLOW_MMAP).
        s["splicefs-nocache"] = MountSpec("splicefs-nocache", base + ["--cache=never", "--no-direct-io"], "splicefs")
        s["splicefs-nocache-dio"] = MountSpec("splicefs-nocache-dio", base + ["--cache=never", "--direct-io"],
                                              "splicefs")
        s["splicefs-passthrough"] = MountSpec("splicefs-passthrough", base + ["--data-path=passthrough"], "splicefs")
    s["bindfs"] = MountSpec("bindfs", ["bindfs", "-f", "{backing}", "{mnt}"])
    # mergerfs with one branch: the backing dir itself.
    s["mergerfs"] = MountSpec("mergerfs", ["mergerfs", "-f", "-o", "cache.files=partial", "{backing}", "{mnt}"])
    for e in extras:
        name, _, cmd = e.partition("=")
        if not name or not cmd:
            raise SystemExit(f"--extra wants NAME=COMMAND, got {e!r}")
        argv = shlex.split(cmd)
        if not any("{mnt}" in a for a in argv):
            argv += ["{backing}", "{mnt}"]
        kind = "splicefs" if os.path.basename(argv[0]) == "splicefs" else "fuse"
        s[name] = MountSpec(name, argv, kind)
    return s


def _cmd(argv: list[str]) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (r.stdout or r.stderr).strip().splitlines()[0] if (r.stdout or r.stderr).strip() else ""
    except (OSError, subprocess.TimeoutExpired):
        return "n/a"


def environment(workdir: str, splicefs: str | None, quick: bool, rounds: int) -> dict:
    fs = _cmd(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "-T", workdir])
    with open("/proc/sys/fs/pipe-max-size", encoding="utf-8") as f:
        pipe_max = f.read().strip()
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "work dir": f"{workdir} on {fs}",
        "mode": f"{'quick' if quick else 'full'}, {rounds} round(s), rotating order",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "pipe-max-size": pipe_max,
        "fio": _cmd(["fio", "--version"]),
        "bindfs": _cmd(["bindfs", "--version"]),
        "mergerfs": _cmd(["mergerfs", "--version"]),
        "splicefs": _cmd([splicefs, "--version"]) if splicefs else "not used",
    }


class Interrupted(Exception):
    pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", required=True, help="empty temp dir for backing + mountpoints")
    ap.add_argument("--out", required=True, help="results directory")
    ap.add_argument("--splicefs", help="path of the splicefs binary (splicefs configs are skipped without it)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--configs", help="comma list, e.g. native,splicefs,bindfs")
    ap.add_argument("--workloads", help="comma list of " + ",".join(workloads.GROUPS))
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=COMMAND",
                    help="another FUSE daemon; {backing} and {mnt} are substituted, else appended")
    ap.add_argument("--pidlog", help="file to append started daemon PIDs to (read by the shell trap)")
    a = ap.parse_args()

    sizes = QUICK if a.quick else FULL
    rounds = a.rounds or (1 if a.quick else 3)
    all_specs = specs(a.splicefs, a.extra)
    names = a.configs.split(",") if a.configs else (QUICK_CONFIGS if a.quick else DEFAULT_CONFIGS)
    names += [e.partition("=")[0] for e in a.extra if e.partition("=")[0] not in names]
    missing = [n for n in names if n not in all_specs]
    if missing:
        log(f"skipping unknown/unavailable configs: {', '.join(missing)}")
    configs = [n for n in names if n in all_specs]
    groups = a.workloads.split(",") if a.workloads else list(workloads.GROUPS)
    for g in groups:
        if g not in workloads.GROUPS:
            raise SystemExit(f"unknown workload {g}; known: {', '.join(workloads.GROUPS)}")

    workdir = os.path.realpath(a.workdir)
    backing = os.path.join(workdir, "backing")
    os.makedirs(backing, exist_ok=True)
    os.makedirs(os.path.join(a.out, "logs"), exist_ok=True)
    pidlog = PidLog(a.pidlog)

    def on_term(_sig, _frm):
        raise Interrupted()

    signal.signal(signal.SIGTERM, on_term)
    env = environment(workdir, a.splicefs, a.quick, rounds)
    env["sizes"] = (f"seq file {sizes.seq_bytes // MiB} MiB; rand read {sizes.rand_io_bytes // MiB} MiB or "
                    f"{sizes.rand_runtime} s; rand write {sizes.randwrite_io_bytes // MiB} MiB or {sizes.rand_runtime} s; "
                    f"{sizes.meta_files} files; tree {sizes.tree_src}")
    raw: list[dict] = []
    errors: list[dict] = []
    t_start = time.monotonic()
    interrupted = False
    try:
        log(f"preparing backing files in {backing} ({sizes.seq_bytes // MiB} MiB)")
        workloads.prepare_backing(backing, sizes)
        for r in range(rounds):
            raw.append({c: {} for c in configs})
            for gi, g in enumerate(groups):
                fn, _keys = workloads.GROUPS[g]
                k = (r + gi) % len(configs)
                for c in configs[k:] + configs[:k]:
                    mnt = os.path.join(workdir, f"mnt-{c}")
                    os.makedirs(mnt, exist_ok=True)
                    log(f"round {r + 1}/{rounds} {g:<10} {c}")
                    try:
                        with Mount(all_specs[c], backing, mnt, os.path.join(a.out, "logs", f"{c}.log"), pidlog) as m:
                            raw[r][c].update(fn(m, sizes))
                    except (RuntimeError, OSError, ValueError, KeyError) as e:
                        log(f"  FAILED: {e}")
                        errors.append({"round": r, "workload": g, "config": c, "error": str(e)})
            report.write_json(os.path.join(a.out, "results.json"),
                              {"environment": env, "configs": configs, "rounds": raw, "errors": errors})
    except (KeyboardInterrupt, Interrupted):
        interrupted = True
        log("interrupted: cleaning up, reporting what was measured")
        workloads.Runner.stop_current()
    finally:
        for mp in mounts_under(workdir):
            unmount(mp)
    env["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    env["duration"] = f"{time.monotonic() - t_start:.0f} s"
    summary = report.summarise(raw, configs)
    md = report.markdown(summary, configs, env, "splicefs benchmark" + (" (interrupted)" if interrupted else ""))
    if errors:
        md += "\nFailures:\n\n" + "\n".join(f"- round {e['round'] + 1} {e['workload']} {e['config']}: {e['error']}"
                                          for e in errors) + "\n"
    png = report.chart(summary, configs, a.out)
    if png:
        md += f"\n![ratios to native]({os.path.basename(png)})\n"
    with open(os.path.join(a.out, "results.md"), "w", encoding="utf-8") as f:
        f.write(md)
    report.write_json(os.path.join(a.out, "results.json"),
                      {"environment": env, "configs": configs, "sizes": sizes.__dict__, "rounds": raw,
                       "summary": summary, "errors": errors, "interrupted": interrupted})
    print(md)
    log(f"results in {a.out}")
    return 130 if interrupted else (1 if errors else 0)


if __name__ == "__main__":
    sys.exit(main())
