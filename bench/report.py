#!/usr/bin/env python3
"""Turn the raw output of `make bench` into bench/results/REPORT.md and its charts.

    bench/report.py RESULTS_DIR          write RESULTS_DIR/REPORT.md and RESULTS_DIR/charts/*.png
    bench/report.py validate FILE...     check area TSV files against the convention (exit 1 if not)

RESULTS_DIR layout (written by bench/run.sh; see bench/README.md):
    meta/machine.tsv        key<TAB>value, in display order
    meta/settings.tsv       name<TAB>value, as SHOWn by the benchmark server
    meta/pg_test_fsync.txt  output of pg_test_fsync -s 2
    meta/runs.tsv           phase area size status seconds note   (one line per run.sh call)
    raw/main/<area>/        BENCH_OUT of the main pass: <area>.tsv, <area>-targets.tsv, <area>-notes.md
    raw/growth/<area>/<size>/  BENCH_OUT of one growth call (GROWTH=1 SIZE=<size>)

Python 3 standard library only; charts are drawn by gnuplot (Debian package gnuplot-nox).
"""
import math
import os
import re
import shutil
import subprocess
import sys

HEADER = ["benchmark", "variant", "clients", "size", "metric", "unit", "median", "min", "max", "runs"]
TARGET_HEADER = ["target", "measured", "goal", "holds"]
VARIANTS = ["channel_sync", "reference", "limit"]
COLORS = {"channel_sync": "#1f6fb4", "reference": "#e8822a", "limit": "#7a7a7a"}
TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0}
LINEAR_BAND = 0.30  # per-unit cost within ±30 % between sizes counts as linear (or flat)


# ---------------------------------------------------------------- reading

def read_tsv(path):
    """Rows of a tab-separated file as lists of strings (header included), [] if absent."""
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8", errors="replace") as f:
        return [line.rstrip("\n").rstrip("\r").split("\t") for line in f if line.strip()]


def read_text(path):
    """The whole file, or '' if absent."""
    if not os.path.isfile(path):
        return ""
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def is_int(s):
    return re.fullmatch(r"[0-9]+", s or "") is not None


def to_float(s):
    """A finite float, or None."""
    try:
        v = float(s)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def parse_results(path, problems, size_hint=None, base=None):
    """Validated rows of an <area>.tsv as dicts; every defect is appended to problems."""
    rows = read_tsv(path)
    name = os.path.relpath(path, base) if base else path
    if not rows:
        problems.append(f"`{name}`: missing or empty")
        return []
    if rows[0] != HEADER:
        problems.append(f"`{name}`: header is `{' '.join(rows[0])}`, expected `{' '.join(HEADER)}`")
        return []
    out = []
    for n, r in enumerate(rows[1:], start=2):
        where = f"`{name}` line {n}"
        if len(r) != len(HEADER):
            problems.append(f"{where}: {len(r)} columns, expected {len(HEADER)}")
            continue
        d = dict(zip(HEADER, r))
        if not d["benchmark"]:
            problems.append(f"{where}: empty benchmark name")
            continue
        if d["variant"] not in VARIANTS:
            problems.append(f"{where}: variant `{d['variant']}` is not one of {', '.join(VARIANTS)}")
            continue
        if d["clients"] not in ("", "-") and not is_int(d["clients"]):
            problems.append(f"{where}: clients `{d['clients']}` is not an integer")
            continue
        if d["size"] in ("", "-") and size_hint is not None:
            d["size"] = str(size_hint)
        if d["size"] not in ("", "-") and not is_int(d["size"]):
            problems.append(f"{where}: size `{d['size']}` is not an integer")
            continue
        vals = [to_float(d[k]) for k in ("median", "min", "max")]
        if None in vals:
            problems.append(f"{where}: median/min/max must be numbers")
            continue
        if not (vals[1] <= vals[0] <= vals[2]):
            problems.append(f"{where}: expected min <= median <= max")
            continue
        if not is_int(d["runs"]) or int(d["runs"]) < 1:
            problems.append(f"{where}: runs `{d['runs']}` is not a positive integer")
            continue
        if int(d["runs"]) < 3:
            problems.append(f"{where}: only {d['runs']} run(s); the convention asks for at least 3 (kept)")
        d["median"], d["min"], d["max"] = vals
        d["runs"] = int(d["runs"])
        d["clients"] = "" if d["clients"] == "-" else d["clients"]
        d["size"] = "" if d["size"] == "-" else d["size"]
        out.append(d)
    return out


def parse_targets(path, problems, base=None):
    """Rows of an <area>-targets.tsv as dicts."""
    rows = read_tsv(path)
    name = os.path.relpath(path, base) if base else path
    if not rows:
        return []
    if rows[0] != TARGET_HEADER:
        problems.append(f"`{name}`: header is `{' '.join(rows[0])}`, expected `{' '.join(TARGET_HEADER)}`")
        return []
    out = []
    for n, r in enumerate(rows[1:], start=2):
        if len(r) != len(TARGET_HEADER):
            problems.append(f"`{name}` line {n}: {len(r)} columns, expected {len(TARGET_HEADER)}")
            continue
        d = dict(zip(TARGET_HEADER, r))
        if d["holds"] not in ("yes", "no"):
            problems.append(f"`{name}` line {n}: holds `{d['holds']}` is not yes or no")
            continue
        out.append(d)
    return out


# ---------------------------------------------------------------- units and ratios

def direction(unit):
    """+1 when a larger figure is better (throughput), -1 when smaller is (time), 0 otherwise."""
    u = unit.strip()
    if u in ("tps", "qps") or u.endswith("/s") or u.endswith("/sec"):
        return 1
    if time_factor(u) is not None:
        return -1
    return 0


def time_factor(unit):
    """Seconds per unit for a time unit ('ms') or a per-operation time ('us/event'), else None."""
    head = unit.strip().split("/")[0]
    return TIME_UNITS.get(head)


def per_op_unit(unit):
    """True for per-operation metrics: 'us/event', 'ms/txn', or throughput ('tps', 'events/s')."""
    u = unit.strip()
    return direction(u) == 1 or (time_factor(u) is not None and "/" in u)


def speed_ratio(value, base, unit):
    """How fast `value` is relative to `base` (1.0 = as fast; 2.0 = twice as fast), or None."""
    d = direction(unit)
    if d == 0 or not value or not base:
        return None
    return value / base if d > 0 else base / value


def fmt_num(v):
    """A figure with three significant digits and thousands separators."""
    if v is None:
        return "—"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    if a == 0:
        return "0"
    return f"{v:.3g}"


def fmt_seconds(sec):
    """A duration in the most readable unit."""
    if sec is None:
        return "—"
    for unit, f in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(sec) >= f or unit == "ns":
            return f"{fmt_num(sec / f)} {unit}"
    return f"{sec} s"


def fmt_pct(r):
    return "—" if r is None else f"{r * 100:.0f} %"


def fmt_x(r):
    return "—" if r is None else f"{r:.2f}×"


def md(s):
    """Escape a cell for a Markdown table."""
    return str(s).replace("|", "\\|").replace("\n", " ")


def slug(s):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s).strip("_") or "x"


def client_key(c):
    return int(c) if is_int(c) else -1


# ---------------------------------------------------------------- charts

def gnuplot_available():
    return shutil.which("gnuplot") is not None


def run_gnuplot(script, problems, what):
    """Run one gnuplot script; a failure is recorded as a problem, never fatal."""
    try:
        res = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        problems.append(f"chart {what}: gnuplot did not run ({e})")
        return False
    if res.returncode != 0:
        problems.append(f"chart {what}: gnuplot failed: {res.stderr.strip()[:300]}")
        return False
    return True


def gp_quote(s):
    return "'" + str(s).replace("'", "''") + "'"


def bar_chart(rows, bench, metric, unit, png, problems):
    """Clustered bars (channel_sync, reference, limit) per client count, with min–max whiskers."""
    present = [v for v in VARIANTS if any(r["variant"] == v for r in rows)]
    sizes = sorted({r["size"] for r in rows}, key=lambda s: int(s) if s else -1)
    groups = sorted({(r["clients"], r["size"]) for r in rows},
                    key=lambda g: (int(g[1]) if g[1] else -1, client_key(g[0])))

    def label(g):
        c = f"{g[0]} client{'s' if g[0] != '1' else ''}" if g[0] else "—"
        return c + (f", {int(g[1]):,}" if len(sizes) > 1 and g[1] else "")

    data = png[:-4] + ".dat"
    with open(data, "w", encoding="utf-8") as f:
        for g in groups:
            cells = [label(g)]
            for v in present:
                hit = [r for r in rows if (r["clients"], r["size"], r["variant"]) == (g[0], g[1], v)]
                cells += [repr(hit[0]["median"]), repr(hit[0]["min"]), repr(hit[0]["max"])] if hit else ["NaN"] * 3
            f.write("\t".join(cells) + "\n")
    n = len(present)
    gap = 1
    width = 1.0 / (n + gap)
    d = direction(unit)
    better = " (higher is better)" if d > 0 else " (lower is better)" if d < 0 else ""
    plots, labels = [], []
    for i, v in enumerate(present):
        col = 2 + 3 * i
        src = gp_quote(data) if i == 0 else "''"
        plots.append(f"{src} using {col}:{col + 1}:{col + 2}{':xtic(1)' if i == 0 else ''} "
                     f"title {gp_quote(v)} lc rgb {gp_quote(COLORS[v])}")
        off = (i - (n - 1) / 2.0) * width
        labels.append(f"'' using ($0+({off:.4f})):{col + 2}:(fmt(column({col}))) with labels offset 0,0.8 "
                      "font ',8' notitle")
    script = f"""
set terminal pngcairo noenhanced size 900,480 font 'DejaVu Sans,10'
set output {gp_quote(png)}
set datafile separator "\\t"
set datafile missing 'NaN'
set title {gp_quote(f"{bench}: {metric} — median, whiskers min–max")}
set ylabel {gp_quote(unit + better)}
set style data histograms
set style histogram errorbars gap {gap} lw 1
set style fill solid 0.85 border -1
set boxwidth 0.95 relative
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
set grid ytics
set key outside right top vertical
set xtics nomirror
fmt(x) = (x != x) ? '' : (abs(x) >= 100 ? sprintf('%.0f', x) : (abs(x) >= 10 ? sprintf('%.1f', x) : sprintf('%.3g', x)))
plot {', '.join(plots)}, \\
     {', '.join(labels)}
"""
    return run_gnuplot(script, problems, os.path.basename(png))


def growth_chart(series, area, png, problems):
    """Per-unit cost relative to the smallest size, one line per (benchmark, variant, clients, metric)."""
    data = png[:-4] + ".dat"
    plots = []
    palette = ["#1f6fb4", "#e8822a", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#17becf", "#7a7a7a"]
    benches = unique(s["benchmark"] for s in series)
    dash = {"channel_sync": 1, "reference": 2, "limit": 4}
    with open(data, "w", encoding="utf-8") as f:
        idx = 0
        for s in series:
            if len(s["points"]) < 2:
                continue
            base = s["points"][0]["unit_cost"]
            for p in s["points"]:
                f.write(f"{p['size']}\t{p['unit_cost'] / base!r}\n")
            f.write("\n\n")
            color = palette[benches.index(s["benchmark"]) % len(palette)]
            plots.append(f"{gp_quote(data)} index {idx} using 1:2 with linespoints lw 2 pt {5 + idx % 6} "
                         f"dt {dash[s['variant']]} lc rgb {gp_quote(color)} title {gp_quote(s['title'])}")
            idx += 1
    if not plots:
        return False
    sizes = sorted({p["size"] for s in series for p in s["points"]})
    xtics = ", ".join(f"'{n:,} SKUs' {n}" for n in sizes)
    script = f"""
set terminal pngcairo noenhanced size 900,480 font 'DejaVu Sans,10'
set output {gp_quote(png)}
set title {gp_quote(f"growth: {area} — cost per SKU (or per operation) by catalog size, relative to the smallest")}
set ylabel 'relative per-unit cost (1 = smallest size)'
set logscale x
set xrange [{sizes[0] / 1.6}:{sizes[-1] * 1.6}]
set xtics ({xtics})
set yrange [0:*]
set offsets 0, 0, graph 0.1, 0
set grid
set key below vertical maxrows 4
set arrow from graph 0, first 1.3 to graph 1, first 1.3 nohead dt 3 lc rgb '#999999'
set arrow from graph 0, first 0.7 to graph 1, first 0.7 nohead dt 3 lc rgb '#999999'
set label 'linear band ±30 %' at graph 0.01, first 1.36 font ',8' tc rgb '#777777'
plot {', '.join(plots)}
"""
    return run_gnuplot(script, problems, os.path.basename(png))


# ---------------------------------------------------------------- growth analysis

def growth_series(rows):
    """Group growth rows into series with per-unit cost at each size."""
    keyed = {}
    for r in rows:
        if not r["size"]:
            continue
        key = (r["benchmark"], r["variant"], r["clients"], r["metric"], r["unit"])
        keyed.setdefault(key, {})[int(r["size"])] = r
    out = []
    for (bench, variant, clients, metric, unit), by_size in keyed.items():
        per_op = per_op_unit(unit)
        tf = time_factor(unit)
        points = []
        for size in sorted(by_size):
            v = by_size[size]["median"]
            if per_op:
                # seconds per operation at this catalog size
                cost = (1.0 / v if v > 0 else None) if direction(unit) > 0 else v * tf
            elif tf is not None:
                cost = v * tf / size  # seconds per SKU
            else:
                cost = v / size  # unit per SKU (counts, bytes)
            if cost is None or cost <= 0:
                continue
            points.append({"size": size, "value": v, "unit_cost": cost})
        for a, b in zip(points, points[1:]):
            b["step"] = b["unit_cost"] / a["unit_cost"]
        title = f"{bench} {variant}" + (f" {clients}c" if clients else "") + f" ({metric})"
        out.append({"benchmark": bench, "variant": variant, "clients": clients, "metric": metric,
                    "unit": unit, "per_op": per_op, "time": tf is not None or direction(unit) > 0,
                    "points": points, "title": title})
    out.sort(key=lambda s: (s["benchmark"], s["metric"], VARIANTS.index(s["variant"]), client_key(s["clients"])))
    return out


def exponent(points, per_op):
    """Least-squares slope of log(total cost) over log(size): cost ∝ size^k."""
    if len(points) < 2:
        return None
    xs = [math.log(p["size"]) for p in points]
    ys = [math.log(p["unit_cost"] * (1 if per_op else p["size"])) for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return None if den == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den


def verdict(s):
    """'linear' / 'flat' when per-unit cost stays within ±30 % from each size to the next and overall."""
    pts = s["points"]
    if len(pts) < 2:
        return "not enough sizes measured to judge"
    k = exponent(pts, s["per_op"])
    inside = lambda r: 1 - LINEAR_BAND <= r <= 1 + LINEAR_BAND
    first, last = pts[0], pts[-1]
    total = last["unit_cost"] / first["unit_cost"]
    span = f"{first['size']:,} → {last['size']:,} SKUs"
    breaks = "; ".join(f"×{b['step']:.2f} from {a['size']:,} to {b['size']:,}"
                       for a, b in zip(pts, pts[1:]) if not inside(b["step"]))
    unit = "per-operation" if s["per_op"] else "per-SKU"
    fit = f"∝ size^{k:.2f}" if s["per_op"] else f"total ∝ size^{k:.2f}"
    if not breaks and inside(total):
        if s["per_op"]:
            return f"**flat**: {unit} cost does not grow with the catalog (within ±30 % per step; {fit})"
        return f"**linear**: {unit} cost stays within ±30 % per step ({fit})"
    breaks = breaks or "a gradual drift, each step within ±30 %"
    if inside(total):
        return (f"**uneven**: {unit} cost ×{total:.2f} over {span} ({fit}), but a step leaves the ±30 % band: "
                f"{breaks} — noise or a threshold (cache, plan); run again to tell")
    if s["per_op"]:
        return f"**not flat**: {unit} cost {'grows' if total > 1 else 'falls'} ×{total:.2f} over {span} ({fit}; {breaks})"
    if total > 1:
        return (f"**super-linear**: {unit} cost rises ×{total:.2f} over {span} ({fit}; {breaks}); usual causes: "
                "a sort (n log n), a plan that changes with size, or a working set that outgrew shared_buffers "
                "— see the area's notes")
    return (f"**sub-linear**: {unit} cost falls ×{1 / total:.2f} over {span} ({fit}; {breaks}): "
            "fixed costs dominate the small sizes")


def fmt_unit_cost(s, cost):
    if s["time"]:
        return fmt_seconds(cost) + ("/op" if s["per_op"] else "/SKU")
    return f"{fmt_num(cost)} {s['unit']}/SKU"


# ---------------------------------------------------------------- the report

class Report:
    def __init__(self, results):
        self.results = results
        self.charts = os.path.join(results, "charts")
        self.problems = []
        self.lines = []

    def w(self, *lines):
        self.lines.extend(lines)

    def table(self, header, rows):
        self.w("| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|")
        for r in rows:
            self.w("| " + " | ".join(md(c) for c in r) + " |")
        self.w("")

    # -- inputs
    def load(self):
        R = self.results
        self.machine = [r for r in read_tsv(os.path.join(R, "meta", "machine.tsv")) if len(r) >= 2]
        self.settings = [r for r in read_tsv(os.path.join(R, "meta", "settings.tsv")) if len(r) >= 2]
        self.fsync = read_text(os.path.join(R, "meta", "pg_test_fsync.txt"))
        self.runs = [r + [""] * (6 - len(r)) for r in read_tsv(os.path.join(R, "meta", "runs.tsv"))]
        main_dir = os.path.join(R, "raw", "main")
        areas = sorted(d for d in os.listdir(main_dir)) if os.path.isdir(main_dir) else []
        self.areas = []
        for a in areas:
            d = os.path.join(main_dir, a)
            status = self.run_status("main", a, "")
            tsv = os.path.join(d, f"{a}.tsv")
            rows = parse_results(tsv, self.problems, base=R) if (os.path.exists(tsv) or status == "ok") else []
            targets = parse_targets(os.path.join(d, f"{a}-targets.tsv"), self.problems, base=R)
            notes = read_text(os.path.join(d, f"{a}-notes.md")).strip()
            self.areas.append({"name": a, "rows": rows, "targets": targets, "notes": notes, "status": status})
        self.growth = {}
        gdir = os.path.join(R, "raw", "growth")
        for a in sorted(os.listdir(gdir)) if os.path.isdir(gdir) else []:
            rows = []
            for size in sorted((s for s in os.listdir(os.path.join(gdir, a)) if is_int(s)), key=int):
                tsv = os.path.join(gdir, a, size, f"{a}.tsv")
                if os.path.exists(tsv):
                    rows += [r for r in parse_results(tsv, self.problems, size_hint=int(size), base=R) if r["size"]]
            notes = "\n\n".join(unique(t for t in (read_text(os.path.join(gdir, a, s, f"{a}-notes.md")).strip()
                                                   for s in sorted(os.listdir(os.path.join(gdir, a)))) if t))
            self.growth[a] = {"rows": rows, "notes": notes}

    def run_status(self, phase, area, size):
        for r in self.runs:
            if r[0] == phase and r[1] == area and r[2] == size:
                return r[3]
        return "unknown"

    # -- sections
    def header(self):
        m = dict((r[0], r[1]) for r in self.machine)
        self.w("# channel_sync benchmark report", "")
        self.w("Generated by `make bench` (bench/run.sh → bench/report.py). Each benchmark runs three things "
               "in one run on one machine: **channel_sync**, the **reference** (the plain SQL / PL/pgSQL a team "
               "would write instead, `bench/reference/`) and the **limit** (the bare statement, no extension "
               "work). Absolute figures depend on the machine; ratios measured in one run do not.", "")
        facts = [(k, m[k]) for k in ("date", "commit", "scale", "areas", "duration") if k in m]
        if facts:
            self.w(" · ".join(f"**{k}** {v}" for k, v in facts), "")

    def summary(self):
        all_t = [(a["name"], t) for a in self.areas for t in a["targets"]]
        held = [x for x in all_t if x[1]["holds"] == "yes"]
        missed = [x for x in all_t if x[1]["holds"] == "no"]
        bad = [r for r in self.runs if r[3] not in ("ok",)]
        self.w("## Summary", "")
        if all_t:
            self.w(f"- **{len(held)} of {len(all_t)} targets hold**" + (f"; {len(missed)} missed:" if missed else "."))
        else:
            self.w("- **No target was measured.**")
        for a, t in missed:
            self.w(f"  - ✗ {a}: {t['target']} — measured {t['measured']}, goal {t['goal']}")
        if bad:
            self.w(f"- {len(bad)} benchmark run(s) did not complete: "
                   + ", ".join(f"{r[1]}{' size ' + r[2] if r[2] else ''} ({r[3]})" for r in bad))
        noisy = [r for a in self.areas for r in a["rows"] if r["median"] and (r["max"] - r["min"]) / r["median"] > 0.5]
        if noisy:
            self.w(f"- {len(noisy)} figure(s) have a spread (max − min) above 50 % of the median: the machine was "
                   "noisy during the run (see the load average below); read those ratios with care, or run again.")
        if self.problems:
            self.w(f"- {len(self.problems)} problem(s) with the raw data, listed under *Problems* below.")
        self.w("")

    def machine_section(self):
        self.w("## Machine", "")
        keep = [r for r in self.machine if r[0] not in ("date", "commit", "scale", "areas", "duration")]
        if keep:
            self.table(["", ""], keep)
        if self.settings:
            self.w("Server settings, as `SHOW`n by the benchmark cluster:", "")
            self.table(["setting", "value"], self.settings)
        wal = dict((r[0], r[1]) for r in self.settings).get("wal_sync_method", "")
        methods = parse_fsync(self.fsync)
        if methods:
            self.w("`pg_test_fsync -s 2`, one 8 kB write per sync (the commit ceiling of one session):", "")
            self.table(["method", "ops/s", "µs/op", ""],
                       [[m, fmt_num(o), fmt_num(u), "← wal_sync_method" if m == wal else ""] for m, o, u in methods])
        if self.fsync:
            self.w("<details><summary>full pg_test_fsync output</summary>", "", "```", self.fsync.rstrip(), "```",
                   "", "</details>", "")

    def how_to_read(self):
        self.w("### How to read the tables", "",
               "- *median / min / max* over *runs* repetitions; *spread* = (max − min) ÷ median.",
               "- *of limit*: channel_sync's speed as a share of the bare statement's (100 % = no overhead). "
               "For throughput (tps, …/s) it is value ÷ limit, for times limit ÷ value.",
               "- *vs reference*: how many times faster than the reference implementation (2.00× = twice as fast; "
               "below 1.00× = slower).",
               "- Charts show the first metric of each benchmark: median bars with min–max whiskers.", "")

    def benchmarks(self):
        self.w("## Benchmarks", "")
        self.how_to_read()
        os.makedirs(self.charts, exist_ok=True)
        for a in self.areas:
            self.w(f"### {a['name']}", "")
            if a["status"] != "ok":
                self.w(f"**This area did not complete: {a['status']}** "
                       f"({self.run_note('main', a['name'])}). Figures below, if any, are partial.", "")
            rows = [r for r in a["rows"]]
            if not rows:
                self.w("_No figures._", "")
            for bench in unique(r["benchmark"] for r in rows):
                self.bench_section(a["name"], bench, [r for r in rows if r["benchmark"] == bench])
            if a["notes"]:
                self.w(a["notes"], "")

    def run_note(self, phase, area):
        for r in self.runs:
            if r[0] == phase and r[1] == area:
                return f"{r[3]} after {r[4]} s" + (f": {r[5]}" if r[5] else "")
        return "no run recorded"

    def bench_section(self, area, bench, rows):
        self.w(f"#### {bench}", "")
        table = []
        for metric in unique(r["metric"] for r in rows):
            mrows = sorted((r for r in rows if r["metric"] == metric),
                           key=lambda r: (int(r["size"]) if r["size"] else -1, client_key(r["clients"]),
                                          VARIANTS.index(r["variant"])))
            for r in mrows:
                peers = {p["variant"]: p for p in mrows if (p["clients"], p["size"]) == (r["clients"], r["size"])}
                lim = peers.get("limit")
                ref = peers.get("reference")
                of_limit = speed_ratio(r["median"], lim["median"], r["unit"]) if lim else None
                vs_ref = speed_ratio(r["median"], ref["median"], r["unit"]) if ref and r["variant"] != "reference" \
                    else None
                spread = (r["max"] - r["min"]) / r["median"] if r["median"] else None
                name = f"**{r['variant']}**" if r["variant"] == "channel_sync" else r["variant"]
                table.append([metric, r["clients"] or "—", f"{int(r['size']):,}" if r["size"] else "—", name,
                              f"{fmt_num(r['median'])} {r['unit']}", fmt_num(r["min"]), fmt_num(r["max"]),
                              r["runs"], fmt_pct(spread), fmt_pct(of_limit), fmt_x(vs_ref)])
        self.table(["metric", "clients", "size", "variant", "median", "min", "max", "runs", "spread", "of limit",
                    "vs reference"], table)
        metric = rows[0]["metric"]
        png = os.path.join(self.charts, f"{slug(area)}-{slug(bench)}.png")
        prim = [r for r in rows if r["metric"] == metric]
        if gnuplot_available() and bar_chart(prim, bench, metric, prim[0]["unit"], png, self.problems):
            self.w(f"![{bench}](charts/{os.path.basename(png)})", "")
        else:
            self.w(f"_(chart for {bench} not drawn — see Problems)_", "")
            if not gnuplot_available():
                self.problems.append("gnuplot not found: install gnuplot-nox (scripts/deps.sh)")

    def targets(self):
        self.w("## Targets", "")
        self.w("Each target from the issues, as measured in this run. A miss is a miss: it is shown as **NO**.", "")
        rows = []
        for a in self.areas:
            for t in a["targets"]:
                rows.append([a["name"], t["target"], t["measured"], t["goal"],
                             "yes" if t["holds"] == "yes" else "**NO**"])
            if not a["targets"]:
                why = "area did not complete: " + a["status"] if a["status"] != "ok" else "no targets reported"
                rows.append([a["name"], f"_({why})_", "—", "—", "—"])
        self.table(["Area", "Target", "Measured", "Goal", "Holds"], rows)

    def growth_section(self):
        if not self.growth:
            return
        self.w("## Growth with the catalog", "",
               "Each area that supports it ran again on fresh databases of three catalog sizes (`GROWTH=1 SIZE=n`). "
               "For a whole-catalog cost (a time unit) the table gives the cost per SKU; for a per-operation "
               "figure (tps, …/s, us/op) the cost per operation. *× prev* is the per-unit cost divided by the "
               "previous size's: **linear** (or **flat** for per-operation figures) means every step, and the "
               "whole range, stays within ±30 %.", "")
        for a, g in self.growth.items():
            self.w(f"### {a}", "")
            statuses = [r for r in self.runs if r[0] == "growth" and r[1] == a and r[3] != "ok"]
            for r in statuses:
                self.w(f"- size {r[2]}: **{r[3]}**" + (f" — {r[5]}" if r[5] else ""))
            if statuses:
                self.w("")
            series = growth_series(g["rows"])
            if not series:
                self.w("_No growth figures._", "")
                continue
            rows = []
            for s in series:
                for p in s["points"]:
                    rows.append([s["benchmark"], s["variant"], s["clients"] or "—", s["metric"], f"{p['size']:,}",
                                 f"{fmt_num(p['value'])} {s['unit']}", fmt_unit_cost(s, p["unit_cost"]),
                                 fmt_x(p.get("step"))])
            self.table(["benchmark", "variant", "clients", "metric", "size", "median", "per unit", "× prev"], rows)
            for s in series:
                self.w(f"- {s['title']}: {verdict(s)}")
            self.w("")
            png = os.path.join(self.charts, f"growth-{slug(a)}.png")
            if gnuplot_available() and growth_chart(series, a, png, self.problems):
                self.w(f"![growth {a}](charts/{os.path.basename(png)})", "")
            if g["notes"]:
                self.w(g["notes"], "")

    def runs_section(self):
        self.w("## Runs", "")
        if self.runs:
            self.table(["phase", "area", "size", "status", "seconds", "note"], self.runs)
        logs = []
        for r in self.runs:
            if r[3] != "ok":
                sub = (os.path.join("raw", "main", r[1]) if r[0] == "main" else
                       os.path.join("raw", "catalog", r[2]) if r[0] == "catalog" else
                       os.path.join("raw", "growth", r[1], r[2]))
                log = read_text(os.path.join(self.results, sub, "run.log"))
                if log:
                    tail = "\n".join(log.rstrip().splitlines()[-25:])
                    logs += [f"<details><summary>{r[0]} {r[1]} {r[2]}: last lines of {sub}/run.log</summary>", "",
                             "```", tail, "```", "", "</details>", ""]
        self.w(*logs)

    def problems_section(self):
        self.w("## Problems", "")
        if not self.problems:
            self.w("None: every TSV follows the convention and every chart was drawn.", "")
        for p in self.problems:
            self.w(f"- {p}")
        self.w("")

    def write(self):
        self.load()
        # the body first: drawing it finds the problems the summary counts
        self.benchmarks()
        self.targets()
        self.growth_section()
        self.runs_section()
        body, self.lines = self.lines, []
        self.header()
        self.summary()
        self.machine_section()
        self.lines += body
        self.problems_section()
        with open(os.path.join(self.results, "REPORT.md"), "w", encoding="utf-8") as f:
            f.write("\n".join(self.lines).rstrip() + "\n")
        for f in os.listdir(self.charts) if os.path.isdir(self.charts) else []:
            if f.endswith(".dat"):
                os.remove(os.path.join(self.charts, f))
        return self.problems


def unique(xs):
    seen, out = set(), []
    for x in xs:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def parse_fsync(text):
    """(method, ops/s, µs/op) of the 'one 8kB write' section of pg_test_fsync output."""
    out, inside = [], False
    for line in text.splitlines():
        if "Compare file sync methods using one" in line:
            inside = True
            continue
        if inside and line.startswith("Compare"):
            break
        m = re.match(r"\s+(\S+)\s+([0-9.]+) ops/sec\s+([0-9.]+) usecs/op", line)
        if inside and m:
            out.append((m.group(1), float(m.group(2)), float(m.group(3))))
    return out


def validate(paths):
    """Check area TSVs; print problems; 0 when all are clean."""
    problems = []
    for p in paths:
        if p.endswith("-targets.tsv"):
            if not read_tsv(p):
                problems.append(f"`{p}`: missing or empty")
            parse_targets(p, problems)
        else:
            parse_results(p, problems)
    for p in problems:
        print(p)
    print("valid" if not problems else f"{len(problems)} problem(s)")
    return 0 if not problems else 1


def main(argv):
    if len(argv) >= 2 and argv[1] == "validate":
        return validate(argv[2:])
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print(__doc__, file=sys.stderr)
        return 2
    problems = Report(argv[1]).write()
    print(f"report: {os.path.join(argv[1], 'REPORT.md')} ({len(problems)} problem(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
