"""The vanishing-gradient numbers: the tanh RNN loses its gradient far faster than the
gated cells, and the norms are the true ||dL/dh_t||."""
import numpy as np

from tinygrad_rnn.viz import vanishing_gradients


def test_rnn_gradient_vanishes_faster_than_lstm_and_gru():
    norms = vanishing_gradients(steps=40, hidden_size=16)
    surviving = {name: values[0] / values[-1] for name, values in norms.items()}
    assert surviving["rnn"] < 1e-3 * surviving["lstm"]
    assert surviving["rnn"] < 1e-3 * surviving["gru"]
    for values in norms.values():
        assert len(values) == 40 and np.all(np.isfinite(values))


def test_last_step_norm_is_the_norm_of_the_loss_weights():
    # L = <v, h_T> so dL/dh_T = v for every cell
    norms = vanishing_gradients(steps=5, hidden_size=8)
    assert np.allclose([values[-1] for values in norms.values()], norms["rnn"][-1])
