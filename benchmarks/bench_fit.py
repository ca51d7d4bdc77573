"""Time per epoch of gdlib.train.fit against scikit-learn's MLPClassifier (and PyTorch if present).

The same problem for every contender: a 64-128-10 ReLU network with softmax cross-entropy,
trained by plain mini-batch SGD (no momentum, no weight decay, constant learning rate, a fresh
shuffle every epoch) for the same number of epochs on the training part of
``gdlib.data.load_digits(seed=0)``, then scored on its test part. Every library uses float64
and the same number of BLAS threads (``--threads``, 1 by default: on a small shared machine more
threads make these tiny matrix products slower and the timings erratic).

Each fit is timed twice, by the wall clock (``time.perf_counter``) and by the CPU time of the
process (``time.process_time``, which a busy machine inflates much less), and divided by the
number of epochs. Three gdlib figures:

- ``gdlib fit``: the default call, which after every epoch also evaluates the loss and accuracy
  on the whole training set (``History.loss_per_epoch``, ``History.train_acc``), one more
  forward pass over the data that scikit-learn does not make;
- ``gdlib fit, no epoch metrics``: ``fit`` on the same MLP seen through :class:`StepsOnly`,
  whose ``evaluate`` returns at once, so the same training (bit for bit) without that
  evaluation, plus ``History.mean_batch_loss_per_epoch()``, the size-weighted mean of each
  epoch's batch losses, which is what scikit-learn's fit records (``loss_curve_``): the same
  work and the same record, so the like-for-like comparison;
- ``gdlib steps``: ``History.epoch_time`` of the default call, the training steps alone (wall
  clock only).

Each timing is the minimum over ``--repeats`` interleaved runs (seeds 0, 1, ...); accuracies
are their mean. The ``paired CPU`` column is the median over the repeats of scikit-learn's CPU
time divided by the row's in the same repeat: runs next to each other share the machine's
state, so it moves less than the ratio of minima when the host's speed drifts. The verdict
line per batch size compares scikit-learn's fit with gdlib's (``--target``, 1.5 by default):
met when both the CPU and the wall-clock ratios (of the minima) reach it.

``--sizes`` changes the layer widths (``--sizes 64 512 512 10`` for larger layers).

Run: .venv/bin/python benchmarks/bench_fit.py [--epochs 20] [--lr 0.1] [--batch-sizes 32 128]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from gdlib.data import load_digits
from gdlib.nn import MLP
from gdlib.train import fit

SIZES = (64, 128, 10)


def _timed(run):
    """Run ``run()``; return its result, wall-clock seconds and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - cpu


class StepsOnly:
    """An MLP as ``fit`` sees it, minus the evaluation after every epoch (one more forward pass
    over the training set, which scikit-learn's fit does not make): its ``evaluate`` returns
    ``(0.0, None)`` at once. The training steps are the MLP's own, bit for bit."""

    def __init__(self, model):
        self.params, self.loss_and_grads, self.predict = model.params, model.loss_and_grads, model.predict

    def evaluate(self, X, y):
        return 0.0, None


def run_gdlib(data, *, batch_size, lr, epochs, seed, epoch_metrics=True):
    model = MLP(SIZES, "relu", rng=seed)
    trained = model if epoch_metrics else StepsOnly(model)

    def train():
        history = fit(trained, data.X_train, data.y_train, rule="sgd", lr=lr, num_epochs=epochs,
                      batch_size=batch_size, rng=seed)
        if not epoch_metrics:  # the loss curve scikit-learn's fit records (loss_curve_)
            history.mean_batch_loss_per_epoch()
        return history

    history, wall, cpu = _timed(train)
    assert not history.diverged and history.num_epochs == epochs, history.message
    return {"wall": wall / epochs, "cpu": cpu / epochs,
            "steps": float(np.mean(history.epoch_time)), "acc": model.score(data.X_test, data.y_test)}


def run_gdlib_no_metrics(data, **kwargs):
    return run_gdlib(data, epoch_metrics=False, **kwargs)


def run_sklearn(data, *, batch_size, lr, epochs, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=SIZES[1:-1], activation="relu", solver="sgd", batch_size=batch_size,
        learning_rate="constant", learning_rate_init=lr, momentum=0.0, nesterovs_momentum=False,
        alpha=0.0, shuffle=True, tol=0.0, n_iter_no_change=10**9, max_iter=epochs,
        early_stopping=False, random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter reached: as intended
        _, wall, cpu = _timed(lambda: clf.fit(data.X_train, data.y_train))
    assert clf.n_iter_ == epochs, clf.n_iter_
    return {"wall": wall / epochs, "cpu": cpu / epochs, "acc": clf.score(data.X_test, data.y_test)}


def run_torch(data, *, batch_size, lr, epochs, seed):
    import torch

    torch.manual_seed(seed)
    X = torch.as_tensor(data.X_train, dtype=torch.float64)
    y = torch.as_tensor(data.y_train, dtype=torch.long)
    layers = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1]).double()
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)

    def train():
        for _ in range(epochs):
            order = torch.randperm(len(y), generator=generator)
            for i in range(0, len(y), batch_size):
                idx = order[i:i + batch_size]
                opt.zero_grad(set_to_none=True)
                loss_fn(net(X[idx]), y[idx]).backward()
                opt.step()

    _, wall, cpu = _timed(train)
    with torch.no_grad():
        pred = net(torch.as_tensor(data.X_test, dtype=torch.float64)).argmax(dim=1).numpy()
    return {"wall": wall / epochs, "cpu": cpu / epochs, "acc": float(np.mean(pred == data.y_test))}


LABELS = {
    "sklearn": "sklearn MLPClassifier.fit",
    "gdlib": "gdlib fit",
    "gdlib_no_metrics": "gdlib fit, no epoch metrics",
    "torch": "torch loop",
}


def _verdict(ratios: tuple[float, float], target: float) -> str:
    cpu, wall = ratios
    met = "met" if min(cpu, wall) >= target else "NOT met"
    return f"{cpu:.2f}x CPU, {wall:.2f}x wall: {met}"


def main(argv=None) -> None:
    global SIZES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES),
                        help="layer widths, input 64 and output 10 (default 64 128 10)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS (and torch) threads")
    parser.add_argument("--target", type=float, default=1.5,
                        help="the speed-up over scikit-learn that counts as met")
    args = parser.parse_args(argv)
    if len(args.sizes) < 2 or args.sizes[0] != 64 or args.sizes[-1] != 10:
        parser.error(f"--sizes must start with 64 (pixels) and end with 10 (classes), got {args.sizes}")
    SIZES = tuple(args.sizes)

    data = load_digits(seed=0)
    contenders = {"sklearn": run_sklearn, "gdlib": run_gdlib, "gdlib_no_metrics": run_gdlib_no_metrics}
    try:
        import torch

        torch.set_num_threads(args.threads)
        contenders["torch"] = run_torch
    except ImportError:
        print("(PyTorch not installed: its row is skipped)")

    blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    print(f"digits: {len(data.y_train)} training / {len(data.y_test)} test examples, "
          f"MLP {'-'.join(map(str, SIZES))} relu, SGD lr={args.lr}, {args.epochs} epochs, "
          f"{args.threads} BLAS thread(s), min over {args.repeats} runs")
    print(f"BLAS: {', '.join(blas) or 'unknown'}; "
          + ", ".join(f"{k}={v if v is not None else '(unset)'}" for k, v in env.items())
          + f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with threadpool_limits(limits=args.threads, user_api="blas"):
        for batch_size in args.batch_sizes:
            runs = {name: [] for name in contenders}
            for r in range(args.repeats):
                for name, run in contenders.items():  # interleaved, so load spikes hit all
                    runs[name].append(run(data, batch_size=batch_size, lr=args.lr,
                                          epochs=args.epochs, seed=r))
            best = {name: {key: min(run[key] for run in results) for key in results[0]}
                    for name, results in runs.items()}
            paired = {name: statistics.median(s["cpu"] / g["cpu"] for s, g in
                                              zip(runs["sklearn"], results))
                      for name, results in runs.items()}
            acc = {name: statistics.mean(run["acc"] for run in results)
                   for name, results in runs.items()}
            sk = best["sklearn"]
            print(f"\nbatch size {batch_size}")
            header = (f"  {'':<28} {'wall/epoch':>10} {'CPU/epoch':>10} "
                      f"{'sklearn/x wall':>14} {'sklearn/x CPU':>13} {'paired CPU':>10} {'test acc':>8}")
            print(header)
            print("  " + "-" * (len(header) - 2))
            ratio = {}
            for name in contenders:
                b = best[name]
                ratio[name] = (sk["cpu"] / b["cpu"], sk["wall"] / b["wall"])
                print(f"  {LABELS[name]:<28} {b['wall'] * 1e3:>8.2f}ms {b['cpu'] * 1e3:>8.2f}ms "
                      f"{ratio[name][1]:>13.2f}x {ratio[name][0]:>12.2f}x {paired[name]:>9.2f}x "
                      f"{acc[name]:>8.3f}")
            steps = best["gdlib"]["steps"]
            print(f"  {'gdlib steps (epoch_time)':<28} {steps * 1e3:>8.2f}ms {'-':>10} "
                  f"{sk['wall'] / steps:>13.2f}x {'-':>13} {'':>8}")
            print(f"  target {args.target:g}x at batch {batch_size}: like for like (no epoch "
                  f"metrics) {_verdict(ratio['gdlib_no_metrics'], args.target)}; default fit "
                  f"(with its per-epoch evaluation) {_verdict(ratio['gdlib'], args.target)}")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (above the number of cores, the "
          "wall-clock timings are inflated: trust the CPU column, or rerun on a quiet machine)")


if __name__ == "__main__":
    main()
