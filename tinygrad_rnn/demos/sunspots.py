"""Sunspots: predict next year's sunspot number from the past ``window`` years with a GRU.

Data: the yearly sunspot numbers 1700-2008 (309 values, ``data.load_series``). The split is
chronological, nothing is shuffled across a boundary:

    train       1700 .. 1928   (targets; the first ``window`` years only serve as inputs)
    validation  1929 .. 1968   (40 years: picks the training step to keep)
    test        1969 .. 2008   (40 years: the reported RMSE)

A test target y_t is predicted from y_{t-window} .. y_{t-1}, which are years before t (some
of them in the validation part): one-step-ahead forecasting, as a forecaster would do it
each January. Values are standardised with the mean and standard deviation of the training
years only.

    h_t = GRU(x_t, h_{t-1})     over the window, x_t the standardised number
    y^  = w^T h_last + b        (the next year's standardised number)

Baselines on the same test years: persistence (next year = this year), which the GRU must
beat, and, for reference, a linear autoregression on the same window (trained the same way),
a strong classical model for this series that the GRU is not required to beat.

Measured with the defaults (seed 0), test RMSE in sunspot numbers: GRU 16.2, persistence
29.9, linear autoregression 19.5 (seeds 1 and 2: GRU 17.1 and 17.6). The GRU is kept at
the step of lowest validation error: with 209 training windows it overfits within a few
hundred steps. ``out`` gets ``sunspots_forecast.png``: the series with the split, and the
test years' truth, forecast and persistence.
"""
from __future__ import annotations

import math
import os

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import data, nn, optim
from tinygrad_rnn.models import GRU

from ._applied import pyplot, restore, snapshot

VALIDATION_YEARS = 40
TEST_YEARS = 40


class Forecaster(nn.Module):
    def __init__(self, hidden_size: int = 32):
        super().__init__()
        self.gru = GRU(1, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, windows):
        """(B, window) standardised values -> (B,) prediction of the next value."""
        output, _ = self.gru(windows.unsqueeze(-1))
        return self.head(output[:, -1]).reshape(-1)


class Linear(nn.Module):
    def __init__(self, window: int):
        super().__init__()
        self.head = nn.Linear(window, 1)

    def forward(self, windows):
        return self.head(windows).reshape(-1)


def rmse(prediction: list[float], truth: list[float]) -> float:
    return math.sqrt(sum((p - t) ** 2 for p, t in zip(prediction, truth)) / len(truth))


def windows_for(series: list[float], targets: range, window: int, device):
    x = tg.Tensor([series[t - window:t] for t in targets], device=device)
    y = tg.Tensor([series[t] for t in targets], device=device)
    return x, y


def fit(model, train, validation, steps: int, lr: float, log, every: int = 10):
    """Full-batch Adam on mean squared error; keeps the step with the lowest validation loss."""
    optimizer = optim.Adam(model.parameters(), lr=lr)
    best, best_loss, best_step = snapshot(model), float("inf"), 0
    for step in range(1, steps + 1):
        loss = F.mse_loss(model(train[0]), train[1])
        optimizer.zero_grad()
        loss.backward()
        tg.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % every == 0 or step == steps:
            with tg.no_grad():
                val = F.mse_loss(model(validation[0]), validation[1]).item()
            if val < best_loss:
                best, best_loss, best_step = snapshot(model), val, step
            if log and step % max(steps // 5, 1) == 0:
                log(f"step {step}: train MSE {loss.item():.3f}, validation MSE {val:.3f} "
                    "(standardised units)")
    restore(model, best)
    return best_step


def run(steps: int = 400, window: int = 20, hidden: int = 16, lr: float = 0.003, seed: int = 0,
        device: str = "cpu", out: str | None = None, log=print) -> dict:
    tg.manual_seed(seed)
    rows = data.load_series("sunspots_yearly")
    years = [int(year) for year, _ in rows]
    values = [value for _, value in rows]
    n = len(values)
    test_start = n - TEST_YEARS
    val_start = test_start - VALIDATION_YEARS
    train_values = values[:val_start]
    mean = sum(train_values) / len(train_values)
    std = math.sqrt(sum((v - mean) ** 2 for v in train_values) / len(train_values))
    z = [(v - mean) / std for v in values]
    parts = {"train": range(window, val_start), "validation": range(val_start, test_start),
             "test": range(test_start, n)}
    tensors = {name: windows_for(z, targets, window, device) for name, targets in parts.items()}
    log(f"yearly sunspots {years[0]}-{years[-1]}: train targets {years[window]}-"
        f"{years[val_start - 1]}, validation {years[val_start]}-{years[test_start - 1]}, "
        f"test {years[test_start]}-{years[-1]} (chronological; window of {window} past years)")

    model = Forecaster(hidden).to(device)
    kept = fit(model, tensors["train"], tensors["validation"], steps, lr, log)
    linear = Linear(window).to(device)
    fit(linear, tensors["train"], tensors["validation"], steps, lr, None)

    def predict(m, name):
        m.eval()
        with tg.no_grad():
            return [p * std + mean for p in m(tensors[name][0]).tolist()]

    truth = [values[t] for t in parts["test"]]
    gru_test = predict(model, "test")
    linear_test = predict(linear, "test")
    persistence_test = [values[t - 1] for t in parts["test"]]
    gru_rmse, linear_rmse = rmse(gru_test, truth), rmse(linear_test, truth)
    persistence_rmse = rmse(persistence_test, truth)
    log(f"kept the GRU of step {kept} (lowest validation error)")
    log(f"held-out test RMSE {years[test_start]}-{years[-1]} (sunspot number):")
    log(f"  {f'GRU (hidden {hidden})':31s}{gru_rmse:7.2f}")
    log(f"  {'persistence (next = this year)':31s}{persistence_rmse:7.2f}   <- the baseline to beat")
    log(f"  {'linear autoregression':31s}{linear_rmse:7.2f}   (reference, same window)")
    result = {"test_rmse": gru_rmse, "persistence_rmse": persistence_rmse,
              "linear_ar_rmse": linear_rmse, "kept_step": kept,
              "success": gru_rmse < persistence_rmse}
    if out:
        path = plot(os.path.join(out, "sunspots_forecast.png"), years, values, test_start,
                    val_start, gru_test, persistence_test, gru_rmse, persistence_rmse, log)
        if path:
            result["plot"] = path
    return result


def plot(path, years, values, test_start, val_start, gru, persistence, gru_rmse,
         persistence_rmse, log):
    plt = pyplot(log)
    if plt is None:
        return None
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), gridspec_kw={"height_ratios": [1, 1.4]})
    top.plot(years, values, color="0.3", lw=1)
    top.axvspan(years[0] - 0.5, years[val_start] - 0.5, color="0.5", alpha=0.08, label="train")
    top.axvspan(years[val_start] - 0.5, years[test_start] - 0.5, color="tab:orange", alpha=0.15,
                label="validation")
    top.axvspan(years[test_start] - 0.5, years[-1] + 0.5, color="tab:green", alpha=0.15,
                label="test (held out)")
    top.set_title("Yearly sunspot number 1700-2008, chronological split")
    top.set_ylabel("sunspot number")
    top.legend(loc="upper left")
    test_years = years[test_start:]
    bottom.plot(test_years, values[test_start:], "k-o", ms=3, lw=1.5, label="truth")
    bottom.plot(test_years, gru, "-s", color="tab:blue", ms=3,
                label=f"GRU one-year-ahead forecast (RMSE {gru_rmse:.1f})")
    bottom.plot(test_years, persistence, "--", color="tab:red", lw=1,
                label=f"persistence: next = this year (RMSE {persistence_rmse:.1f})")
    bottom.set_title(f"Held-out test years {test_years[0]}-{test_years[-1]}")
    bottom.set_xlabel("year")
    bottom.set_ylabel("sunspot number")
    bottom.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    log(f"plot: {path}")
    return path
