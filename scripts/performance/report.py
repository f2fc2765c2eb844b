#!/usr/bin/env python3
"""Turns compare.sh's runs into results.json, a table of ratios and PNG plots (gnuplot).

Usage: report.py --runs DIR --out DIR [--quick 0|1] [--tls 0|1]

Each run is DIR/<system>-<workload>-c<clients>-v<value size>.json as kv_benchmark writes it.
"""

import argparse
import datetime
import glob
import json
import os
import platform
import re
import subprocess
import sys

SYSTEMS = ["etcd", "raft", "pbft"]
WORKLOADS = ["write", "read", "mixed"]
NAME = re.compile(r"^(etcd|raft|pbft)-(write|read|mixed)-c(\d+)-v(\d+)\.json$")


def load_runs(runs_dir):
    runs = []
    for path in sorted(glob.glob(os.path.join(runs_dir, "*.json"))):
        match = NAME.match(os.path.basename(path))
        if not match:
            continue
        with open(path) as f:
            result = json.load(f)
        runs.append({
            "system": match.group(1),
            "workload": match.group(2),
            "clients": int(match.group(3)),
            "value_size": int(match.group(4)),
            "throughput_ops_s": result["throughput_ops_s"],
            "latency_ms": result["latency_ms"],
            "errors": result["errors"],
            "ops": result["ops"],
            "client_cpu_us_per_op": result.get("client_cpu_us_per_op"),
        })
    return runs


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "kernel": platform.release()}


def ratio(a, b):
    return a / b if a and b else None


def fmt(value, digits=2):
    return "-" if value is None else ("%.*f" % (digits, value))


def times(value):
    return "-" if value is None else "%.2fx" % value


def table(runs):
    by_cell = {}
    for r in runs:
        by_cell.setdefault((r["workload"], r["value_size"], r["clients"]), {})[r["system"]] = r
    header = ("workload  value  clients   etcd ops/s   raft ops/s   pbft ops/s   raft/etcd  pbft/etcd"
              "   p50 ms etcd/raft/pbft    p99 ms etcd/raft/pbft")
    lines = [header, "-" * len(header)]
    for workload in WORKLOADS:
        for (w, size, clients) in sorted(k for k in by_cell if k[0] == workload):
            cell = by_cell[(w, size, clients)]
            tput = {s: cell[s]["throughput_ops_s"] if s in cell else None for s in SYSTEMS}
            p50 = "/".join(fmt(cell[s]["latency_ms"]["p50"] if s in cell else None, 1) for s in SYSTEMS)
            p99 = "/".join(fmt(cell[s]["latency_ms"]["p99"] if s in cell else None, 1) for s in SYSTEMS)
            lines.append("%-8s %6d %8d %12s %12s %12s %10s %10s   %-24s %s" % (
                w, size, clients, fmt(tput["etcd"], 0), fmt(tput["raft"], 0), fmt(tput["pbft"], 0),
                times(ratio(tput["raft"], tput["etcd"])), times(ratio(tput["pbft"], tput["etcd"])),
                p50, p99))
    return "\n".join(lines) + "\n"


def gnuplot(script):
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True, capture_output=True)
        return True
    except (OSError, subprocess.CalledProcessError) as error:
        print("report: gnuplot failed: %s" % error, file=sys.stderr)
        return False


def plots(runs, out):
    made = []
    for workload in WORKLOADS:
        sizes = sorted({r["value_size"] for r in runs if r["workload"] == workload})
        if not sizes:
            continue
        size = 256 if 256 in sizes else sizes[0]
        rows = [r for r in runs if r["workload"] == workload and r["value_size"] == size]
        clients = sorted({r["clients"] for r in rows})
        data = os.path.join(out, "throughput-%s.dat" % workload)
        with open(data, "w") as f:
            f.write("# clients " + " ".join(SYSTEMS) + "\n")
            for c in clients:
                values = []
                for s in SYSTEMS:
                    match = [r for r in rows if r["clients"] == c and r["system"] == s]
                    values.append("%.1f" % match[0]["throughput_ops_s"] if match else "NaN")
                f.write("%d %s\n" % (c, " ".join(values)))
        png = os.path.join(out, "throughput-%s.png" % workload)
        if gnuplot("""set terminal pngcairo size 800,500
set output '%s'
set title 'Throughput, %s, %d B values'
set xlabel 'clients'
set ylabel 'ops/s'
set logscale x 2
set key top left
set grid
plot '%s' using 1:2 with linespoints title 'etcd', '' using 1:3 with linespoints title 'RAFT', '' using 1:4 with linespoints title 'PBFT'
""" % (png, workload, size, data)):
            made.append(png)
        at = 64 if 64 in clients else clients[-1]
        lat = os.path.join(out, "latency-%s.dat" % workload)
        top = 0.0
        with open(lat, "w") as f:
            f.write("# system p50 p99 p999\n")
            for s in SYSTEMS:
                match = [r for r in rows if r["clients"] == at and r["system"] == s]
                if match:
                    l = match[0]["latency_ms"]
                    top = max(top, l["p999"])
                    f.write("%s %.3f %.3f %.3f\n" % (s, l["p50"], l["p99"], l["p999"]))
        png = os.path.join(out, "latency-%s.png" % workload)
        if gnuplot("""set terminal pngcairo size 800,500
set output '%s'
set title 'Latency percentiles, %s, %d clients, %d B values'
set ylabel 'ms'
set yrange [0:%f]
set style data histograms
set style histogram clustered
set style fill solid 0.8
set boxwidth 0.9
set key top left
set grid ytics
plot '%s' using 2:xtic(1) title 'p50', '' using 3 title 'p99', '' using 4 title 'p99.9'
""" % (png, workload, at, size, top * 1.1 + 0.1, lat)):
            made.append(png)
    return made


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", default="0")
    parser.add_argument("--tls", default="0")
    args = parser.parse_args()
    runs = load_runs(args.runs)
    if not runs:
        print("report: no runs in %s" % args.runs, file=sys.stderr)
        return 1
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick == "1",
        "tls": args.tls == "1",
        "machine": machine(),
        "runs": runs,
    }
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    text = table(runs)
    with open(os.path.join(args.out, "table.txt"), "w") as f:
        f.write(text)
    sys.stdout.write(text)
    plots(runs, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
