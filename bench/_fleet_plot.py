"""The fleet's plot: ingest lag, the RSS of every process and the machine's load over time.

``bench/fleet.py`` draws it as ``fleet.png``; ``python bench/_fleet_plot.py fleet.json
out.png`` draws it again from a run's results. matplotlib is an optional dependency (the
``bench`` extra: ``pip install -e '.[bench]'``): :func:`plot` raises
``ModuleNotFoundError`` without it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

WARMUP_S = 120.0
"""Minute 2, from which the RSS growth is reckoned: a dotted line on every panel."""


def plot(results: dict[str, Any], path: Path, dpi: int = 100) -> Path:
    """Lag p50/p99 of each ingest process, the RSS of every process and the load, against time."""
    import matplotlib

    matplotlib.use("Agg")  # a file, no display
    import matplotlib.pyplot as plt

    samples = results["samples"]
    t = [s["t_s"] for s in samples]
    fig, (lag, rss, load_axis) = plt.subplots(
        3, 1, sharex=True, figsize=(9, 8), constrained_layout=True, height_ratios=[3, 3, 1]
    )
    for name, rows in results["lag"].items():
        timed = [r for r in rows if r[2] is not None]
        lag.plot([r[0] for r in timed], [r[2] for r in timed], marker=".", label=f"{name} p99")
        lag.plot([r[0] for r in timed], [r[1] for r in timed], ls="--", label=f"{name} p50")
    lag.set_ylabel("ingest lag (ms)")
    lag.set_ylim(bottom=0)
    lag.grid(alpha=0.3)
    lag.legend(loc="upper right", fontsize=8)
    for name in sorted({n for s in samples for n in s["rss_mb"]}):
        (line,) = rss.plot(t, [s["rss_mb"].get(name) for s in samples], label=name)
        # A storage engine's RSS also counts the pages of the files it maps: its anonymous
        # part (what it allocated) is drawn dashed where mapped pages are a fifth of the RSS.
        anon = [s.get("anon_mb", {}).get(name) for s in samples]
        last_rss, last_anon = samples[-1]["rss_mb"].get(name), anon[-1]
        if last_rss and last_anon is not None and last_anon < 0.8 * last_rss:
            rss.plot(t, anon, ls="--", color=line.get_color(), label=f"{name}, anonymous")
    rss.set_ylabel("RSS (MB)")
    rss.set_yscale("log")
    rss.grid(alpha=0.3)
    rss.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    load_axis.plot(t, [s["load_1m"] for s in samples], color="black")
    load_axis.set_ylabel("load (1 min)")
    load_axis.set_ylim(bottom=0)
    load_axis.grid(alpha=0.3)
    load_axis.set_xlabel("seconds since the fleet began")
    for axis in (lag, rss, load_axis):
        axis.axvline(WARMUP_S, color="black", lw=0.8, ls=":")
    load = ", ".join(f"{x:.1f}" for x in results["load_average"])
    fig.suptitle(
        f"kgtwin fleet: {results['devices']:,} devices, {results['achieved_points_s']:,.0f} points/s, "
        f"{results['minutes']:g} min, {results['date']}\n"
        f"Neo4j + Mosquitto + ingest (InfluxDB, DuckDB) + api; load average at the end {load}",
        fontsize=10,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        raise SystemExit("usage: python bench/_fleet_plot.py fleet.json out.png [dpi]")
    drawn = plot(
        json.loads(Path(sys.argv[1]).read_text()),
        Path(sys.argv[2]),
        int(sys.argv[3:4][0] if sys.argv[3:] else 100),
    )
    print(drawn)
