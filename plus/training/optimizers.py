"""Optimisers and learning-rate schedules of pretraining: torch Adam(W), and the authors' PLUS-TFM "BertAdam".

BertAdam is Adam without bias correction, with weight decay decoupled from the gradient (added to the update, as
AdamW does) and a learning rate scheduled per step. torch's Adam/AdamW always bias-correct, so the update is
written here; the schedule is a torch LambdaLR (`warmup_linear`), and per-tensor gradient clipping is done by the
LightningModules' `configure_gradient_clipping` (`clip_per_tensor`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch.optim import Optimizer


class BertAdam(Optimizer):
    """m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= lr * (m / (sqrt(v) + eps) + weight_decay * p).

    No bias correction (the first steps move by about lr * g / (|g| + eps / (1 - b1)) rather than lr).
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.0,
    ) -> None:
        if lr <= 0 or eps <= 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"invalid BertAdam settings: lr={lr}, betas={betas}, eps={eps}, wd={weight_decay}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad
                state = self.state[param]
                if not state:
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                update = exp_avg / (exp_avg_sq.sqrt() + group["eps"])
                if group["weight_decay"] > 0:
                    update = update + group["weight_decay"] * param
                param.add_(update, alpha=-group["lr"])
        return loss


def warmup_linear(total_steps: int, warmup_fraction: float) -> Callable[[int], float]:
    """LambdaLR factor of step s with x = s / total_steps: x / warmup_fraction during warm-up, then 1 - x (so 0 at
    the last step), the schedule of the authors' BertAdam (pytorch-pretrained-bert's `warmup_linear`)."""

    def factor(step: int) -> float:
        x = step / max(total_steps, 1)
        if x < warmup_fraction:
            return x / warmup_fraction
        return max(1.0 - x, 0.0)

    return factor


def clip_per_tensor(parameters: Iterable[torch.Tensor], max_norm: float) -> None:
    """Clip each parameter's gradient to norm `max_norm` on its own (the authors' BertAdam clips this way)."""
    for param in parameters:
        if param.grad is not None:
            torch.nn.utils.clip_grad_norm_([param], max_norm)
