"""Temperature scaling (Guo et al., 2017): one scalar that makes softmax probabilities calibrated."""

from __future__ import annotations

import torch


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, *, max_iter: int = 200) -> float:
    """The temperature T > 0 minimising the negative log-likelihood of softmax(logits / T)."""
    log_t = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")
    loss_fn = torch.nn.CrossEntropyLoss()
    logits = logits.detach().float()

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss: torch.Tensor = loss_fn(logits / log_t.exp(), labels)
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    optimiser.step(closure)  # type: ignore[no-untyped-call]
    # Optimising log T keeps T positive; clamp guards degenerate validation sets.
    return float(log_t.exp().clamp(0.05, 20.0).item())
