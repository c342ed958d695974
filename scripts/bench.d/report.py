#!/usr/bin/env python3
"""Turns the raw records of one scripts/bench run into the report.

    report.py WORKDIR OUT.md OUT.csv

WORKDIR/raw.jsonl holds one line per wrk run ({"target", "wid", "desc", "conc", "rep",
"run", "res"}; rep 0 is the warm-up) and one line per check ({"check", "key", "value"});
WORKDIR/{v,s}<run>.{before,after} are the node's /debug/vars and /status around a run.
Prints the Markdown, writes it and the CSV, and exits 1 if a write was lost (or a row
appeared that was never sent), else 0.
"""
import csv
import json
import os
import re
import statistics
import sys

work, out_md, out_csv = sys.argv[1:4]
runs, checks = [], []
with open(os.path.join(work, "raw.jsonl")) as f:
    for line in f:
        rec = json.loads(line)
        (runs if "res" in rec else checks).append(rec)


def check(target, key, default=None):
    for c in checks:
        if c["check"] == target and c["key"] == key:
            return c["value"]
    return default


def checks_all(target, key):
    return [c["value"] for c in checks if c["check"] == target and c["key"] == key]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def leaves(obj, prefix=""):
    """Every numeric leaf of a JSON document as (dotted.path, value)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaves(v, f"{prefix}.{k}" if prefix else k)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield prefix, obj


# Counters the report can use if the node exposes them (in /debug/vars or /status; any
# nesting). docs/BENCHMARKS.md lists the names the node should use.
FSYNC_RE = re.compile(r"(^|[._])(log_)?fsyncs?$|(^|[._])fsync_count$|(^|[._])log_syncs$")
APPEND_RE = re.compile(r"(^|[._])(log_)?appends$|(^|[._])append_batches$")
ENTRIES_RE = re.compile(r"(^|[._])(log_)?entries_appended$|(^|[._])appended_entries$|(^|[._])log_entries$")


def counter(doc, rx):
    if doc is None:
        return None
    hits = [v for p, v in leaves(doc) if rx.search(p)]
    return hits[0] if len(hits) == 1 else None


def delta(run, rx):
    vals = []
    for kind in ("v", "s"):
        b = counter(load(os.path.join(work, f"{kind}{run}.before")), rx)
        a = counter(load(os.path.join(work, f"{kind}{run}.after")), rx)
        if a is not None and b is not None:
            vals.append(a - b)
    return vals[0] if vals else None


def last_log_index(run, when):
    doc = load(os.path.join(work, f"s{run}.{when}"))
    try:
        return doc["store"]["raft"]["last_log_index"]
    except (TypeError, KeyError):
        return None


counters_seen = {"fsync": False, "append": False, "entries": False}


def per_run(r):
    res, dur = r["res"], r["res"]["duration_us"] / 1e6
    is_write = res["rows_sent"] > 0
    d = {
        "rps": res["requests"] / dur,
        "rows_s": res["acked"] / dur if is_write else None,
        "p50": res["p50"], "p90": res["p90"], "p99": res["p99"], "max": res["max"],
        "errors": res["connect_err"] + res["read_err"] + res["write_err"] + res["timeouts"]
        + res["app_errors"],
        "requests": res["requests"], "acked": res["acked"], "s503": res.get("s503", 0),
    }
    a, b = last_log_index(r["run"], "after"), last_log_index(r["run"], "before")
    d["entries_per_req"] = (a - b) / res["requests"] if a is not None and b is not None and res["requests"] else None
    f, ap, en = delta(r["run"], FSYNC_RE), delta(r["run"], APPEND_RE), delta(r["run"], ENTRIES_RE)
    counters_seen["fsync"] |= f is not None
    counters_seen["append"] |= ap is not None
    counters_seen["entries"] |= en is not None
    d["fsync_per_write"] = f / res["acked"] if f is not None and res["acked"] else None
    d["entries_per_append"] = en / ap if en is not None and ap else None
    return d


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


# ---- floors ----
fs = (check("floors", "fsync") or "0 0 0 0 0").split()
tcp = (check("floors", "tcp") or "0 0 0 0 0").split()
fs50, tcp50 = float(fs[0]), float(tcp[0])
http_runs = [per_run(r) for r in runs if r["target"] == "floors" and r["rep"] > 0]
http50 = med([h["p50"] for h in http_runs]) or 0.0

groups = {}
for r in runs:
    if r["target"] == "floors" or r["rep"] == 0:
        continue
    groups.setdefault((r["target"], r["wid"], r["conc"]), []).append(r)


def nodes_of(target):
    m = re.search(r"-(\d+)n$", target)
    return int(m.group(1)) if m else 1


def floor_of(target, wid):
    """The least latency one request of this kind could have here (see BENCHMARKS.md)."""
    multi = nodes_of(target) > 1
    write = http50 + fs50 + (tcp50 if multi else 0)
    if wid in ("W1", "W2", "W3", "W3t", "W7"):
        return write
    if wid in ("W4", "W6", "W5-none", "W5f-none", "W5-weak"):
        return http50
    if wid == "W5-linearizable":
        return http50 + (tcp50 if multi else 0)
    if wid == "W5-strong":
        return write
    if wid in ("W5f-weak", "W5f-linearizable"):
        return http50 + tcp50 * (2 if wid == "W5f-linearizable" else 1)
    if wid == "W5f-strong":
        return write + tcp50
    return None


def fmt(v, nd=0, unit=""):
    if v is None:
        return "–"
    return f"{v:,.{nd}f}{unit}"


def errs(r):
    return f"{r['errors']} ({r['s503']}×503)" if r["s503"] else str(r["errors"])


def sample(r):
    return f" (e.g. `{r['errsample'][:60].strip()}`)" if r.get("errsample") else ""


def ms(us):
    return "–" if us is None else f"{us / 1000:.2f}"


rows = []
for (target, wid, conc), rs in groups.items():
    pr = [per_run(r) for r in rs]
    row = {"target": target, "wid": wid, "desc": rs[0]["desc"], "conc": conc, "reps": len(rs)}
    for k in ("rps", "rows_s", "p50", "p90", "p99", "max", "entries_per_req",
              "fsync_per_write", "entries_per_append"):
        row[k] = med([p[k] for p in pr])
    row["max"] = max(p["max"] for p in pr)
    row["errors"] = sum(p["errors"] for p in pr)
    row["s503"] = sum(p["s503"] for p in pr)
    row["errsample"] = next((r["res"].get("errsample") for r in rs if r["res"].get("errsample")), "")
    row["floor"] = floor_of(target, wid)
    row["p50_floor"] = row["p50"] / row["floor"] if row["floor"] else None
    rows.append(row)

# ---- row checks: nothing acknowledged may be missing ----
verdicts, failed = [], False
targets = sorted({r["target"] for r in runs if r["target"] != "floors"}, key=lambda t: (nodes_of(t), t))
for t in targets:
    acked = sum(r["res"]["acked"] for r in runs if r["target"] == t)
    unknown = sum(max(0, r["res"]["rows_sent"] - r["res"]["acked"] - r["res"].get("rows_refused", 0))
                  for r in runs if r["target"] == t)
    qw = check(t, "queue_wait")
    if qw:
        acked += int(qw.split()[1])
    found = check(t, "rows")
    try:
        found = int(found)
    except (TypeError, ValueError):
        # Our own node must let us count; a peer's count is a bonus.
        if t.startswith("ours"):
            failed = True
            verdicts.append((t, acked, unknown, "not counted", "FAIL: could not read the row count"))
        else:
            verdicts.append((t, acked, unknown, "not counted", "not verified (no row count)"))
        continue
    if found < acked:
        v, failed = f"FAIL: {acked - found} acknowledged writes lost", True
    elif found > acked + unknown:
        v, failed = f"FAIL: {found - acked - unknown} rows that were never sent", True
    else:
        v = "ok" + (f" ({found - acked} unacknowledged in-flight writes landed)" if found > acked else "")
    for i in range(2, nodes_of(t) + 1):
        other = check(t, f"rows_node{i}")
        if other is not None and str(other) != str(found):
            v, failed = f"FAIL: node {i} has {other} rows, leader {found}", True
    verdicts.append((t, acked, unknown, found, v))

# ---- Markdown ----
md = []
md.append("# rqlite-c benchmark results\n")
md.append(f"Mode: {check('meta', 'mode', '?')}; elapsed {check('meta', 'elapsed', '?')}.  ")
md.append(f"Machine: {check('meta', 'machine', '?')}.  ")
md.append(f"Binary: `{check('meta', 'binary', '?')}`.  ")
md.append(f"Data directories on {check('floors', 'fs', '?')}. Latencies in ms unless marked µs.\n")
md.append("## Floors (same run, same machine)\n")
md.append("| floor | p50 | p90 | p99 | max | samples |")
md.append("|---|---|---|---|---|---|")
md.append(f"| fdatasync after a 4 KiB append (data dir's fs) | {fs[0]} µs | {fs[1]} µs | {fs[2]} µs | {fs[3]} µs | {fs[4]} |")
md.append(f"| loopback TCP round trip, 64 B, NODELAY | {tcp[0]} µs | {tcp[1]} µs | {tcp[2]} µs | {tcp[3]} µs | {tcp[4]} |")
if http_runs:
    h = http_runs[len(http_runs) // 2]
    md.append(f"| HTTP c=1 `GET /readyz?noleader` (wrk, keep-alive) | {http50:.0f} µs | {med([x['p90'] for x in http_runs]):.0f} µs "
              f"| {med([x['p99'] for x in http_runs]):.0f} µs | {max(x['max'] for x in http_runs):.0f} µs | {h['requests']} |")
md.append("")
md.append("Write floor = HTTP + fdatasync (+ one TCP round trip on 3 nodes); read floors in BENCHMARKS.md.\n")

md.append("## Workloads\n")
md.append("| target | workload | c | req/s | rows/s | p50 | p90 | p99 | max | errors | floor | p50/floor | log entries/req | fsyncs/write | entries/append |")
md.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
order = {w: i for i, w in enumerate(["W1", "W2", "W3", "W3t", "W4", "W5-none", "W5-weak", "W5-linearizable", "W5-strong",
                                     "W5f-none", "W5f-weak", "W5f-linearizable", "W5f-strong", "W6"])}
rows.sort(key=lambda r: (not r["target"].startswith("ours"), nodes_of(r["target"]), r["target"],
                         order.get(r["wid"], 99), r["conc"]))
for r in rows:
    md.append(f"| {r['target']} | {r['wid']} {r['desc']} | {r['conc']} | {fmt(r['rps'])} | {fmt(r['rows_s'])} | "
              f"{ms(r['p50'])} | {ms(r['p90'])} | {ms(r['p99'])} | {ms(r['max'])} | {errs(r)} | "
              f"{ms(r['floor'])} | {fmt(r['p50_floor'], 1, '×')} | {fmt(r['entries_per_req'], 3)} | "
              f"{fmt(r['fsync_per_write'], 3)} | {fmt(r['entries_per_append'], 1)} |")
for t in targets:
    qw = check(t, "queue_wait")
    if qw:
        secs, ok = qw.split()[0], qw.split()[1]
        md.append(f"\n{t}: the closing `?queue&wait` request took {float(secs) * 1000:.2f} ms "
                  f"({'acknowledged' if ok == '1' else 'NOT acknowledged: ' + ' '.join(qw.split()[2:])}).")
    snaps = check(t, "snapshots")
    if snaps is not None:
        md.append(f"\n{t}: {snaps} snapshots of the 10 MB database were taken during W7; "
                  "its `max` is the longest write stall.")
md.append("")
missing = [k for k, v in counters_seen.items() if not v]
if missing:
    md.append("Not exposed by the node (so reported as –, not estimated): "
              + ", ".join({"fsync": "log fsync count (fsyncs/write)", "append": "log append-batch count",
                           "entries": "entries appended (entries/append)"}[k] for k in missing)
              + ". `log entries/req` is the change in `/status` store.raft.last_log_index per request.\n")

peer_rows = [r for r in rows if not r["target"].startswith("ours")]
if peer_rows:
    md.append("## Ours against peers (same write shape, same machine)\n")
    md.append("Throughput is acknowledged rows/s (a request answered with an error does not count).\n")
    md.append("| peer | workload | c | their rows/s | ours rows/s | ours/theirs throughput | their p50 | ours p50 | ours/theirs p50 | their errors |")
    md.append("|---|---|---|---|---|---|---|---|---|---|")
    for p in peer_rows:
        ours = [r for r in rows if r["target"] == f"ours-{nodes_of(p['target'])}n" and r["wid"] == p["wid"]
                and r["conc"] == p["conc"]]
        o = ours[0] if ours else None
        md.append(f"| {p['target']} | {p['wid']} | {p['conc']} | {fmt(p['rows_s'])} | {fmt(o and o['rows_s'])} | "
                  f"{fmt(o and p['rows_s'] and o['rows_s'] / p['rows_s'], 2, '×')} | {ms(p['p50'])} | {ms(o and o['p50'])} | "
                  f"{fmt(o and p['p50'] and o['p50'] / p['p50'], 2, '×')} | {errs(p)}{sample(p)} |")
    md.append("")
notes = checks_all("meta", "peer_note") + checks_all("meta", "peer_version")
if notes:
    md.append("Peers: " + "; ".join(notes) + ".\n")

md.append("## Durability check (final row count against acknowledged writes)\n")
md.append("| target | acknowledged | sent, outcome unknown | rows found | verdict |")
md.append("|---|---|---|---|---|")
for t, acked, unknown, found, v in verdicts:
    md.append(f"| {t} | {acked} | {unknown} | {found} | {v} |")
md.append("")
md.append("RESULT: " + ("FAIL — acknowledged writes are missing or unexplained rows appeared" if failed else "PASS"))
text = "\n".join(md) + "\n"
print(text)
with open(out_md, "w") as f:
    f.write(text)
with open(out_csv, "w", newline="") as f:
    w = csv.writer(f)
    keys = ["target", "wid", "desc", "conc", "reps", "rps", "rows_s", "p50", "p90", "p99", "max", "errors",
            "s503", "floor", "p50_floor", "entries_per_req", "fsync_per_write", "entries_per_append"]
    w.writerow([k + ("_us" if k in ("p50", "p90", "p99", "max", "floor") else "") for k in keys])
    for r in rows:
        w.writerow(["" if r[k] is None else (f"{r[k]:.3f}" if isinstance(r[k], float) else r[k]) for k in keys])
    blank = [""] * 6
    w.writerow(["floor_fsync_4k", "", "", 1, "", "", ""] + fs[:4] + [0, 0] + blank[:5])
    w.writerow(["floor_tcp_rtt", "", "", 1, "", "", ""] + tcp[:4] + [0, 0] + blank[:5])
    w.writerow(["floor_http", "", "", 1, "", "", "", http50, "", "", "", 0, 0] + blank[:5])
sys.exit(1 if failed else 0)
