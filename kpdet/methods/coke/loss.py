"""CoKe's losses (Sec. 3.1.2) as pure functions of features and (frozen) banks."""

from __future__ import annotations

import torch


def keypoint_nll(features: torch.Tensor, prototypes: torch.Tensor, target: torch.Tensor, allowed: torch.Tensor,
                 clutter: torch.Tensor | None, clutter_mask: torch.Tensor | None, temperature: float
                 ) -> torch.Tensor:
    """−log of the non-parametric softmax of Eq. 6, one value per keypoint feature.

    features (N, D) unit keypoint features f_k; prototypes (P, D) the keypoint bank μ;
    target (N,) row of each feature's own prototype; allowed (N, P) prototypes that enter the
    denominator; clutter (M, D) the clutter bank θ, or (N, M, D) per-feature clutter (the
    "image-specific clutter" ablation), or None; clutter_mask (M,) or (N, M) valid slots.
    Logits are dot products divided by τ (Wu et al. 2018's non-parametric softmax).
    → (N,) loss.
    """
    logits = features @ prototypes.T / temperature  # (N, P)
    logits = logits.masked_fill(~allowed, float("-inf"))
    parts = [logits]
    if clutter is not None:
        if clutter.ndim == 2:
            c = features @ clutter.T / temperature  # (N, M)
        else:
            c = torch.einsum("nd,nmd->nm", features, clutter) / temperature
        if clutter_mask is not None:
            c = c.masked_fill(~clutter_mask.expand_as(c), float("-inf"))
        parts.append(c)
    all_logits = torch.cat(parts, dim=1)  # (N, P + M)
    positive = logits.gather(1, target[:, None])[:, 0]
    return torch.logsumexp(all_logits, dim=1) - positive


def clutter_sampling_loss(clutter: torch.Tensor, prototypes: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Eq. 7, Σ_k' f_c·μ_k', averaged over the allowed (clutter feature, prototype) pairs.

    clutter (N, D) clutter features of this batch (with gradient); prototypes (P, D);
    allowed (N, P) the prototypes of each clutter feature's category. → scalar.
    Eq. 8 adds the per-image sums; averaging instead keeps the term's scale independent of
    K and of the number of clutter points, its balance is ``clutter_loss_weight``.
    """
    dots = clutter @ prototypes.T  # (N, P)
    n = allowed.sum()
    if n == 0:
        return dots.sum() * 0.0
    return (dots * allowed).sum() / n
