"""The soak's plot: RSS and ingest lag over time (bench/soak.py writes it as soak.png).

matplotlib is an optional dependency (the ``bench`` extra: ``pip install -e '.[bench]'``);
:func:`plot` raises ``ModuleNotFoundError`` without it and the soak says how to get it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

INSTALL_HINT = (
    "no plot: matplotlib is not installed. Install the benchmarks' extra with "
    "`.venv/bin/pip install -e '.[bench]'` (or `pip install 'matplotlib>=3.8'`) and run again."
)


def plot(samples: Sequence[dict[str, Any]], summary: dict[str, Any], path: Path) -> Path:
    """Draw serve's and redis-server's RSS, and the lag and queue of ingest, against time."""
    import matplotlib

    matplotlib.use("Agg")  # a file, no display
    import matplotlib.pyplot as plt

    t = [s["t_s"] for s in samples]
    fig, (rss, lag) = plt.subplots(2, 1, sharex=True, figsize=(9, 6.5), constrained_layout=True)
    rss.plot(t, [s["rss_mb"] for s in samples], marker=".", label="kgtwin serve")
    rss.plot(t, [s["redis_rss_mb"] for s in samples], marker=".", label="FalkorDB redis-server")
    rss.set_ylabel("RSS (MB)")
    rss.set_ylim(bottom=0)
    rss.legend(loc="lower right")
    rss.grid(alpha=0.3)

    timed = [(s["t_s"], s["lag_ms"]) for s in samples if s["lag_ms"] is not None]
    lag.plot([x for x, _ in timed], [y for _, y in timed], marker=".", color="tab:red", label="lag (ms)")
    lag.set_ylabel("lag of the probe's newest point (ms)")
    lag.set_ylim(bottom=0)
    lag.grid(alpha=0.3)
    queued = [(s["t_s"], s["queue"]) for s in samples if s["queue"] is not None]
    queue = lag.twinx()
    queue.plot(
        [x for x, _ in queued], [y for _, y in queued], ls="--", color="tab:gray", label="queue (msgs)"
    )
    queue.set_ylabel("queue (messages)")
    queue.set_ylim(bottom=0)
    lines = lag.get_legend_handles_labels()
    more = queue.get_legend_handles_labels()
    lag.legend(lines[0] + more[0], lines[1] + more[1], loc="upper right")
    lag.set_xlabel("seconds since the load began")
    for axis in (rss, lag):
        axis.axvline(summary["warmup_s"], color="black", lw=0.8, ls=":")
    rss.text(summary["warmup_s"], 0, " end of warm-up", va="bottom", fontsize=8)

    load = ", ".join(f"{x:.1f}" for x in summary["load_average"])
    fig.suptitle(
        f"kgtwin serve soak: broker {summary['broker']}, {summary['achieved_msgs_per_s']} msg/s, "
        f"{summary['achieved_requests_per_s']} req/s, {summary['minutes']:g} min\n"
        f"{summary['date']}, load average at the end {load}",
        fontsize=10,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
