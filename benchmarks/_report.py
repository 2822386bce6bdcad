"""Printing helpers shared by the benchmarks."""

from __future__ import annotations

import math
import os
import statistics
import sys


def header(title: str) -> None:
    try:
        import saleor

        version = saleor.__version__
    except ImportError:
        version = "not installed"
    print()
    print(
        f"=== {title} | cores={os.cpu_count()} | saleor={version} | python={sys.version.split()[0]}"
    )


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def summary_ms(values: list[float]) -> str:
    return (
        f"n={len(values)} p50={statistics.median(values) * 1000:.1f}ms "
        f"p90={pct(values, 90) * 1000:.1f}ms mean={statistics.fmean(values) * 1000:.1f}ms"
    )
