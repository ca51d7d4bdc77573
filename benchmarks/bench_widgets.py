"""Latency of the sliders (gdlib.widgets) per move, cold and warm, against the targets.

A slider move is timed exactly as a kernel runs it: ``control.value = new`` fires the same
observer that ipywidgets calls, which fetches or computes the run, redraws the figure and
encodes the PNG that goes to the browser (nothing is sent: there is no frontend). *Cold* is the
first visit of a setting (the caches are cleared first: the run is computed); *warm* is a
revisit (the run comes from the cache; only drawing and PNG encoding remain). Targets: median
below 100 ms for the landscape explorer and 300 ms for the training explorer.

It also times the static twins of the chapter's default grids (what ``make book`` pays per
explorer) and prints the size of their HTML (what a page weighs).

Run: .venv/bin/python benchmarks/bench_widgets.py [--landscape rosenbrock] [--moves 17]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from gdlib import widgets
from gdlib.widgets import static_landscape_explorer, static_training_explorer
from gdlib.widgets import runs  # its caches, cleared for the cold timings

TARGETS_MS = {"landscape": 100.0, "training": 300.0}


def time_moves(moves) -> list[tuple[float, float]]:
    """(wall, CPU) milliseconds of each ``(control, value)`` assignment."""
    out = []
    for control, value in moves:
        wall, cpu = time.perf_counter(), time.process_time()
        control.value = value
        out.append((1000 * (time.perf_counter() - wall), 1000 * (time.process_time() - cpu)))
    return out


def landscape_moves(explorer, count: int):
    """``count`` lr moves for each rule, then start moves: every one a new setting."""
    c = explorer.controls
    grid = [value for _, value in c["lr"].options]  # the explorer's learning rates
    lrs = [grid[round(i)] for i in np.linspace(0, len(grid) - 1, count)]
    moves = []
    for rule in ("sgd", "adam"):
        moves.append((c["rule"], rule))
        moves += [(c["lr"], float(v)) for v in lrs]
    (x0, x1), _ = explorer.landscape.bounds
    moves += [(c["x"], float(x)) for x in np.linspace(x0, x1, count)]
    return moves


def report(name: str, what: str, cold, warm) -> None:
    target = TARGETS_MS[name]
    med = lambda xs, k: statistics.median(x[k] for x in xs)  # noqa: E731
    cells = [med(cold, 0), med(cold, 1), med(warm, 0), med(warm, 1)]
    verdict = ", ".join(f"{label} {'<' if value < target else '>='} {target:.0f}"
                        for label, value in zip(("cold", "warm"), (cells[0], cells[2])))
    print(f"{name:<10} {what:<20} {len(cold):>5} " + " ".join(f"{v:>9.1f}" for v in cells)
          + f"   {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landscape", default="rosenbrock")
    parser.add_argument("--moves", type=int, default=17, help="lr positions per rule")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          f"(timings on a busy machine are slower)")
    print("median milliseconds per slider move (wall clock, and CPU time of this process, "
          "which a busy machine inflates less)")
    print(f"{'explorer':<10} {'slider':<20} {'moves':>5} {'cold wall':>9} {'cold cpu':>9} "
          f"{'warm wall':>9} {'warm cpu':>9}   target (wall)")

    runs._landscape_runs.cache_clear()
    explorer = widgets.landscape_explorer(args.landscape, max_steps=200, num_steps=100)
    moves = landscape_moves(explorer, args.moves)
    cold = time_moves(moves)
    warm = time_moves(moves)
    report("landscape", "lr, rule, start x", cold, warm)
    steps = [(explorer.controls["num_steps"], n) for n in range(20, 200, 10)]
    cut = time_moves(steps)
    report("landscape", "steps (cuts a run)", cut, time_moves(steps))

    runs._training_run.cache_clear()
    trainer = widgets.training_explorer(lr=0.1, batch_size=16)
    c, setup = trainer.controls, trainer.setup
    moves = [(c["lr"], lr) for lr in setup.lrs] + [(c["batch_size"], b) for b in setup.batch_sizes]
    cold = time_moves(moves)
    warm = time_moves(moves)
    report("training", "lr, batch size", cold, warm)

    runs._landscape_runs.cache_clear()
    runs._training_run.cache_clear()
    for name, build in (("landscape", lambda: static_landscape_explorer(args.landscape)),
                        ("training", static_training_explorer)):
        wall, cpu = time.perf_counter(), time.process_time()
        static = build()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"static {name}: {static.num_frames} frames built in {wall:.1f} s "
              f"({cpu:.1f} s CPU), {len(static.html) / 1024:.0f} KiB of HTML")


if __name__ == "__main__":
    main()
