"""Run the sections named on the command line (all but peers when none is named) and
merge their figures into .bench/results.json.

Why: one table of sections, so ``make bench BENCH=x`` and the README name the same
things; peers is run only when asked (it builds Vector and the Collector, and takes
the better part of an hour).
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _stack(fn_path: str) -> Callable[[], dict[str, float]]:
    def run() -> dict[str, float]:
        from tests.bench.discovery import read_env

        module, name = fn_path.rsplit(":", 1)
        fn: Callable[[dict[str, str]], dict[str, float]] = getattr(importlib.import_module(module), name)
        return fn(read_env())

    return run


def _local(fn_path: str) -> Callable[[], dict[str, float]]:
    def run() -> dict[str, float]:
        module, name = fn_path.rsplit(":", 1)
        fn: Callable[[], dict[str, float]] = getattr(importlib.import_module(module), name)
        return fn()

    return run


def _discovery() -> dict[str, float]:
    from tests.bench.discovery import burst_bench, inventory_bench, read_env

    return inventory_bench() | burst_bench(read_env())


# name -> (runs without being named, the section)
SECTIONS: dict[str, tuple[bool, Callable[[], dict[str, float]]]] = {
    "transform": (True, _local("tests.bench.transform:transform_bench")),
    "hostile": (True, _local("tests.bench.hostile:hostile_bench")),
    "metrics": (True, _local("tests.bench.metrics:metrics_bench")),
    "discovery": (True, _discovery),
    "pipeline": (True, _stack("tests.bench.pipeline:pipeline_bench")),
    "cronjob": (True, _local("tests.bench.cronjob:cronjob_bench")),
    "peers": (False, _stack("tests.bench.peers:peers_bench")),
}


def main(argv: list[str]) -> int:
    unknown = [a for a in argv if a not in SECTIONS]
    if unknown:
        print(f"bench: unknown section {', '.join(unknown)}; the sections are {', '.join(SECTIONS)}")
        return 2
    results: dict[str, float] = {}
    for name, (default, run) in SECTIONS.items():
        if name in argv or (not argv and default):
            results |= run()
    out = ROOT / ".bench" / "results.json"
    out.parent.mkdir(exist_ok=True)
    prev = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps({**prev, **results}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
