"""Newton's method with tg.func: x <- x - H(x)^-1 grad f(x) (DeZero's steps 29 and 33).

On f(x) = x^4 - 2 x^2 from x = 2 it reaches the minimum x = 1 in 6 steps (gradient descent
needs hundreds); on Rosenbrock's banana it needs about 20. The gradient comes from reverse
mode (tg.func.grad), the Hessian from forward over reverse (tg.func.hessian).

    python examples/newton.py
"""
from __future__ import annotations

import numpy as np

import tinygrad_rnn as tg


def newton(f, x: tg.Tensor, steps: int = 10) -> list:
    """The points x_0, ..., x_steps of Newton's method on the scalar function f."""
    gradient, hessian = tg.func.grad(f), tg.func.hessian(f)
    path = [x.numpy()]
    for _ in range(steps):
        g, h = gradient(x).numpy(), hessian(x).numpy()
        x = tg.tensor(x.numpy() - np.linalg.solve(h, g), dtype="float64")
        path.append(x.numpy())
    return path


def rosenbrock(x: tg.Tensor) -> tg.Tensor:
    """(1 - x0)^2 + 100 (x1 - x0^2)^2: its minimum is (1, 1), at the end of a curved valley."""
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


if __name__ == "__main__":
    for step, point in enumerate(newton(lambda x: (x ** 4 - 2 * x ** 2).sum(),
                                        tg.tensor([2.0], dtype="float64"), steps=6)):
        print(f"f(x) = x^4 - 2x^2   step {step}: x = {point[0]:.10f}")
    path = newton(rosenbrock, tg.tensor([-1.2, 1.0], dtype="float64"), steps=30)
    for step in (0, 5, 10, 20, 30):
        print(f"rosenbrock          step {step:2d}: x = {path[step]}")
