"""The README's example: build a small expression, backward, print gradients and the tape."""
import tinygrad_rnn as tg

x = tg.Tensor([[0.5, -1.0, 2.0]], requires_grad=True, name="x")
W = tg.Tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], requires_grad=True, name="W")
h = (x @ W).tanh()                        # h = tanh(x W)
loss = (h * h).sum()                      # L = sum h^2
print(tg.tape(loss))                      # the Wengert list, one line per op
loss.backward()
print("dL/dx =", x.grad)
print("dL/dW =", W.grad)
