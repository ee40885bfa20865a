"""The interface every array backend implements.

A backend exposes ``xp``, an array module with NumPy's API (``numpy`` itself,
or ``cupy``), and the handful of operations where libraries differ.
"""
from __future__ import annotations


class BackendUnavailable(RuntimeError):
    """A device was asked for that this machine cannot provide."""


def parse_device(device) -> tuple[str, int]:
    """``"cpu"`` -> ("cpu", 0); ``"cuda"`` -> ("cuda", 0); ``"cuda:1"`` -> ("cuda", 1)."""
    text = str(device).strip().lower()
    kind, _, index = text.partition(":")
    if kind not in ("cpu", "cuda") or (index and not index.isdigit()):
        raise ValueError(f"unknown device {device!r}: expected 'cpu', 'cuda' or 'cuda:N'")
    if kind == "cpu" and index not in ("", "0"):
        raise ValueError(f"unknown device {device!r}: the CPU has no index")
    return kind, int(index or 0)


class Backend:
    """What the core needs from an array library."""

    name: str          # "numpy" or "cupy"
    xp: object         # the array module
    array_type: type   # the library's ndarray class

    def device_of(self, array) -> str:
        """The device string of an array, e.g. ``"cpu"`` or ``"cuda:0"``."""
        raise NotImplementedError

    def asarray(self, data, dtype=None, device: str = "cpu", copy: bool = False):
        """An array of this backend on ``device`` (copying only when needed, or always with
        ``copy=True``)."""
        raise NotImplementedError

    def to_numpy(self, array):
        """A host (NumPy) copy or view of ``array``."""
        raise NotImplementedError

    def scatter_add(self, target, index, values) -> None:
        """``target[index] += values`` with repeated indices accumulated (unbuffered)."""
        raise NotImplementedError

    def erf(self, array):
        """The error function elementwise (NumPy has none; exact gelu needs it)."""
        raise NotImplementedError

    def random(self, device: str):
        """This device's random generator (seeded by :meth:`manual_seed`)."""
        raise NotImplementedError

    def manual_seed(self, seed: int) -> None:
        raise NotImplementedError

    def rng_state(self):
        """The generator's state as plain data (dicts, ints, strings), for checkpoints."""
        raise NotImplementedError(f"the {self.name} backend cannot save its generator's state")

    def set_rng_state(self, state) -> None:
        """Put back a state returned by :meth:`rng_state`."""
        raise NotImplementedError(f"the {self.name} backend cannot restore its generator's state")

    def synchronize(self, device: str) -> None:
        """Wait until queued work on ``device`` is done (for timing)."""

    def default_float(self):
        return self.xp.float32

    # -- fused recurrent cells (tinygrad_rnn.models.fused): the pointwise part of one time step,
    #    in one pass. Arguments are (B, ...) arrays; outputs are written into the *_out arrays.
    def lstm_pointwise(self, gates, c_prev, h_out, c_out) -> None:
        """``gates`` (B, 4H), the pre-activations [i f g o], is replaced in place by the
        activations i, f, o = sigma(.), g = tanh(.); c_out = f*c_prev + i*g, h_out = o*tanh(c_out)."""
        raise NotImplementedError

    def lstm_pointwise_backward(self, gates, c_prev, c, dh, dc, dgates_out, dc_prev_out) -> None:
        """From the activations ``gates``, c_{t-1}, c_t and dL/dh_t, dL/dc_t: dgates_out (B, 4H)
        gets dL/d(pre-activations), dc_prev_out gets dL/dc_{t-1}."""
        raise NotImplementedError

    def gru_pointwise(self, xg, hg, h_prev, h_out, hn_out) -> None:
        """``xg`` = W_i x + b_i and ``hg`` = W_h h_{t-1} + b_h, both (B, 3H) in [r z n] order:
        xg is replaced in place by [r z n], hn_out gets hg's n part (backward needs it) and
        h_out = (1 - z)*n + z*h_{t-1}."""
        raise NotImplementedError

    def gru_pointwise_backward(self, acts, hn, h_prev, dh, dxg_out, dhn_out, dh_prev_out) -> None:
        """dxg_out (B, 3H) gets dL/dxg, dhn_out dL/d(hg's n part), dh_prev_out the direct part of
        dL/dh_{t-1} (dh * z; the caller adds the path through W_h)."""
        raise NotImplementedError
