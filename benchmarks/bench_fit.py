"""Time per epoch of gdlib.train.fit against scikit-learn's MLPClassifier (and PyTorch if present).

The same problem for every contender: a 64-128-10 ReLU network with softmax cross-entropy,
trained by plain mini-batch SGD (no momentum, no weight decay, constant learning rate, a fresh
shuffle every epoch) for the same number of epochs on the training part of
``gdlib.datasets.load_digits(seed=0)``, then scored on its test part. Every library uses float64
and the same number of BLAS threads (``--threads``, 1 by default: on a small shared machine more
threads make these tiny matrix products slower and the timings erratic).

Two gdlib figures are printed: ``fit`` is the whole call divided by the number of epochs,
including what gdlib does and scikit-learn does not (the training-set loss and accuracy after
every epoch); ``steps`` is ``History.epoch_time``, the training steps alone. The ratios compare
scikit-learn's (and PyTorch's) whole fit with both. Each timing is the minimum over
``--repeats`` interleaved runs (different seeds); accuracies are their mean.

Run: .venv/bin/python benchmarks/bench_fit.py [--epochs 20] [--lr 0.1] [--batch-sizes 32 128]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from gdlib.datasets import load_digits
from gdlib.model import MLP
from gdlib.train import fit

SIZES = (64, 128, 10)


def run_gdlib(data, *, batch_size, lr, epochs, seed):
    model = MLP(SIZES, "relu", rng=seed)
    start = time.perf_counter()
    history = fit(model, data.X_train, data.y_train, rule="sgd", lr=lr, num_epochs=epochs,
                  batch_size=batch_size, rng=seed)
    wall = time.perf_counter() - start
    assert not history.diverged and history.num_epochs == epochs, history.message
    return {"fit": wall / epochs, "steps": float(np.mean(history.epoch_time)),
            "acc": model.score(data.X_test, data.y_test)}


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
        start = time.perf_counter()
        clf.fit(data.X_train, data.y_train)
        wall = time.perf_counter() - start
    assert clf.n_iter_ == epochs, clf.n_iter_
    return {"fit": wall / epochs, "acc": clf.score(data.X_test, data.y_test)}


def run_torch(data, *, batch_size, lr, epochs, seed):
    import torch

    torch.manual_seed(seed)
    X = torch.as_tensor(data.X_train, dtype=torch.float64)
    y = torch.as_tensor(data.y_train, dtype=torch.long)
    net = torch.nn.Sequential(torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.ReLU(),
                              torch.nn.Linear(SIZES[1], SIZES[2])).double()
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=generator)
        for i in range(0, len(y), batch_size):
            idx = order[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(net(X[idx]), y[idx]).backward()
            opt.step()
    wall = time.perf_counter() - start
    with torch.no_grad():
        pred = net(torch.as_tensor(data.X_test, dtype=torch.float64)).argmax(dim=1).numpy()
    return {"fit": wall / epochs, "acc": float(np.mean(pred == data.y_test))}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="BLAS (and torch) threads")
    args = parser.parse_args(argv)

    data = load_digits(seed=0)
    contenders = {"gdlib": run_gdlib, "sklearn": run_sklearn}
    try:
        import torch

        torch.set_num_threads(args.threads)
        contenders["torch"] = run_torch
    except ImportError:
        print("(PyTorch not installed: its column is skipped)")

    print(f"digits: {len(data.y_train)} training / {len(data.y_test)} test examples, "
          f"MLP {'-'.join(map(str, SIZES))} relu, SGD lr={args.lr}, {args.epochs} epochs, "
          f"{args.threads} BLAS thread(s), min over {args.repeats} runs; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    header = (f"{'batch':>5} | {'gdlib fit':>9} {'gdlib steps':>11} | {'sklearn':>8} | "
              f"{'sk/gd fit':>9} {'sk/gd steps':>11} | "
              + (f"{'torch':>8} {'to/gd fit':>9} {'to/gd steps':>11} | " if "torch" in contenders else "")
              + "test accuracy (gdlib, sklearn" + (", torch)" if "torch" in contenders else ")"))
    print(header)
    print("-" * len(header))
    with threadpool_limits(limits=args.threads, user_api="blas"):
        for batch_size in args.batch_sizes:
            runs = {name: [] for name in contenders}
            for r in range(args.repeats):
                for name, run in contenders.items():  # interleaved, so load spikes hit all
                    runs[name].append(run(data, batch_size=batch_size, lr=args.lr,
                                          epochs=args.epochs, seed=r))
            best = {name: {key: min(run[key] for run in results) for key in results[0]}
                    for name, results in runs.items()}
            acc = {name: statistics.mean(run["acc"] for run in results)
                   for name, results in runs.items()}
            g, s = best["gdlib"], best["sklearn"]
            line = (f"{batch_size:>5} | {g['fit'] * 1e3:>7.2f}ms {g['steps'] * 1e3:>9.2f}ms | "
                    f"{s['fit'] * 1e3:>6.2f}ms | {s['fit'] / g['fit']:>8.2f}x {s['fit'] / g['steps']:>10.2f}x | ")
            if "torch" in best:
                t = best["torch"]
                line += (f"{t['fit'] * 1e3:>6.2f}ms {t['fit'] / g['fit']:>8.2f}x "
                         f"{t['fit'] / g['steps']:>10.2f}x | ")
            line += ", ".join(f"{acc[name]:.3f}" for name in contenders)
            print(line)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (above the number of cores, the "
          "timings are inflated: rerun on a quiet machine)")


if __name__ == "__main__":
    main()
