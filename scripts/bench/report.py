"""Turns the raw per-round figures into medians, per-round ratios to native, a markdown
table, a JSON file and a gnuplot bar chart."""

import json
import os
import statistics
import subprocess

# key, field in the raw dict, unit, higher is better, label
METRICS = [
    ("seqread_cold", "bw_mib_s", "MiB/s", True, "(a) seq read 1M, mount cache cold"),
    ("seqread_warm", "bw_mib_s", "MiB/s", True, "(a) seq read 1M, mount cache warm"),
    ("seqwrite", "bw_mib_s", "MiB/s", True, "(b) seq write 1M + fsync"),
    ("randread_j1", "iops", "IOPS", True, "(c) rand read 4k, 1 job"),
    ("randread_j4", "iops", "IOPS", True, "(c) rand read 4k, 4 jobs"),
    ("randwrite", "iops", "IOPS", True, "(d) rand write 4k + fsync"),
    ("meta_create", "ops_s", "ops/s", True, "(e) create"),
    ("meta_stat_warm", "ops_s", "ops/s", True, "(e) stat, warm"),
    ("meta_stat_cold", "ops_s", "ops/s", True, "(e) stat, after remount"),
    ("meta_list", "ops_s", "entries/s", True, "(e) list"),
    ("meta_unlink", "ops_s", "ops/s", True, "(e) unlink"),
    ("tree_copy", "seconds", "s", False, "(f) cp -a tree in"),
    ("tree_read", "seconds", "s", False, "(f) tar tree out (cold)"),
]
CPU_METRICS = ["seqread_cold", "seqread_warm", "seqwrite"]


def _value(raw: dict, key: str, field: str):
    v = raw.get(key, {}).get(field) if isinstance(raw.get(key), dict) else None
    return v if isinstance(v, (int, float)) else None


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _find_transfer(j, direction: str):
    """Finds the {spliced_bytes, copied_bytes, ...} object for 'reads'/'writes' anywhere."""
    if isinstance(j, dict):
        d = j.get(direction)
        if isinstance(d, dict) and "spliced_bytes" in d:
            return d
        for v in j.values():
            r = _find_transfer(v, direction)
            if r is not None:
                return r
    return None


def transfer_delta(res: dict, direction: str) -> dict | None:
    a = _find_transfer(res.get("splicefs_stats_after"), direction)
    b = _find_transfer(res.get("splicefs_stats_before"), direction) or {}
    if a is None:
        return None
    keys = ("spliced_bytes", "spliced_requests", "copied_bytes", "copied_requests")
    return {k: a.get(k, 0) - b.get(k, 0) for k in keys}


def summarise(rounds: list[dict], configs: list[str]) -> dict:
    """rounds[r][config][metric] = raw dict. Returns medians and median per-round ratios."""
    out: dict = {"median": {}, "ratio": {}, "cpu_us_per_mib": {}, "transfer": {}}
    for key, field, _unit, higher, _label in METRICS:
        for c in configs:
            vals = [_value(r.get(c, {}), key, field) for r in rounds]
            out["median"].setdefault(key, {})[c] = _median(vals)
            ratios = []
            for r in rounds:
                v, n = _value(r.get(c, {}), key, field), _value(r.get("native", {}), key, field)
                if v and n:
                    ratios.append(v / n if higher else n / v)
            out["ratio"].setdefault(key, {})[c] = _median(ratios)
    for key in CPU_METRICS:
        for c in configs:
            vals = [r.get(c, {}).get(key, {}).get("daemon_cpu_us_per_mib") for r in rounds]
            out["cpu_us_per_mib"].setdefault(key, {})[c] = _median(vals)
    for key in ("seqread_cold", "seqread_warm", "seqwrite", "randread_j1", "randwrite"):
        direction = "writes" if "write" in key else "reads"
        for c in configs:
            deltas = [transfer_delta(r.get(c, {}).get(key, {}), direction) for r in rounds]
            deltas = [d for d in deltas if d]
            if deltas:
                out["transfer"].setdefault(key, {})[c] = {k: sum(d[k] for d in deltas) for k in deltas[0]}
    return out


def _fmt(v, unit: str) -> str:
    if v is None:
        return "–"
    if unit == "s":
        return f"{v:.2f} s"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def markdown(summary: dict, configs: list[str], env: dict, title: str) -> str:
    lines = [f"## {title}", ""]
    lines += [f"- {k}: {v}" for k, v in env.items()]
    lines += ["", "Median over rounds; in brackets the median of per-round ratios to native "
              "(>1 = faster than native, <1 = slower; for times, native/config).", ""]
    lines.append("| workload | unit | " + " | ".join(configs) + " |")
    lines.append("|---|---|" + "---|" * len(configs))
    for key, _field, unit, _higher, label in METRICS:
        cells = []
        for c in configs:
            v, r = summary["median"][key].get(c), summary["ratio"][key].get(c)
            cells.append(_fmt(v, unit) + (f" ({r:.2f}×)" if r is not None and c != "native" else ""))
        if any(summary["median"][key].get(c) is not None for c in configs):
            lines.append(f"| {label} | {unit} | " + " | ".join(cells) + " |")
    fuse = [c for c in configs if c != "native"]
    if fuse:
        lines += ["", "Daemon CPU time (utime+stime from /proc/PID/stat) per MiB moved, µs/MiB, median:", ""]
        lines.append("| workload | " + " | ".join(fuse) + " |")
        lines.append("|---|" + "---|" * len(fuse))
        for key in CPU_METRICS:
            row = summary["cpu_us_per_mib"].get(key, {})
            if all(row.get(c) is None for c in fuse):
                continue
            lines.append(f"| {key} | " + " | ".join("–" if row.get(c) is None else f"{row[c]:.0f}" for c in fuse) + " |")
    if summary["transfer"]:
        lines += ["", "splicefs data path (from user.splicefs.stats, summed over rounds):", ""]
        lines.append("| workload | config | spliced | copied | avg request |")
        lines.append("|---|---|---|---|---|")
        for key, per in summary["transfer"].items():
            for c, d in per.items():
                reqs = d["spliced_requests"] + d["copied_requests"]
                total = d["spliced_bytes"] + d["copied_bytes"]
                avg = f"{total / reqs / 1024:.0f} KiB" if reqs else "–"
                pct = f"{100 * d['spliced_bytes'] / total:.0f}%" if total else "–"
                lines.append(f"| {key} | {c} | {d['spliced_bytes'] / 2**20:.0f} MiB ({pct}) | "
                             f"{d['copied_bytes'] / 2**20:.0f} MiB | {avg} in {reqs} req |")
    return "\n".join(lines) + "\n"


def chart(summary: dict, configs: list[str], outdir: str) -> str | None:
    fuse = [c for c in configs if c != "native"]
    rows = [(k, lbl) for k, _f, _u, _h, lbl in METRICS if any(summary["ratio"][k].get(c) for c in fuse)]
    if not fuse or not rows:
        return None
    dat = os.path.join(outdir, "ratios.dat")
    with open(dat, "w", encoding="utf-8") as f:
        f.write("metric " + " ".join(f'"{c}"' for c in fuse) + "\n")
        for k, _lbl in rows:
            f.write(f'"{k}" ' + " ".join(f"{summary['ratio'][k].get(c) or 0:.4f}" for c in fuse) + "\n")
    png = os.path.join(outdir, "ratios.png")
    gp = os.path.join(outdir, "ratios.gp")
    with open(gp, "w", encoding="utf-8") as f:
        f.write(f"""set terminal pngcairo size 1400,600 noenhanced font ",10"
set output "{png}"
set title "FUSE mirrors relative to native ext4 (median per-round ratio; 1 = native speed)"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key outside right top
set grid ytics
set yrange [0:*]
set xtics rotate by -30
set ylabel "ratio to native (higher is better)"
plot for [i=2:{len(fuse) + 1}] "{dat}" using i:xtic(1) title columnheader(i), 1 with lines lc rgb "black" dt 2 notitle
""")
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    return png if r.returncode == 0 else None


def write_json(path: str, payload: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=1, sort_keys=False, default=str)
