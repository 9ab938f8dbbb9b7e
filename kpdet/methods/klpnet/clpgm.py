"""CLPGM (§3.3): a conditional variational graph auto-encoder over one object's keypoints.

Nodes: the object's keypoints; features = CKLM embedding at the keypoint ‖ position in the crop
‖ category embedding. Input adjacency (method-notes decision): k nearest neighbours + self
loops, symmetric, normalised D^-1/2 A D^-1/2. Encoder: two tanh(A X W + X W_self) layers,
then linear graph convolutions for μ and log σ² (Eq. 6), z = μ + σ·ε while training.
Decoder (Eq. 7): Â = sigmoid(Σ_f z_i,f g_c,f z_j,f + b_c), an inner product weighted by the
category c. Loss (piecewise L_link): reconstruction of the
category's skeleton + KL to N(0, I), plus a category-consistency term (c − c_i)² between the
category predicted from the pooled latent and the object's category.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Clpgm(nn.Module):
    def __init__(self, embed_dim: int, num_categories: int, hidden: int, latent: int, knn: int):
        super().__init__()
        self.knn = knn
        self.cat_embed = nn.Embedding(num_categories, 16)
        self.layers = nn.ModuleList([nn.Linear(embed_dim + 2 + 16, hidden), nn.Linear(hidden, hidden)])
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        # a separate self weight per layer (A X W + X W_self): with K ≤ ~14 nodes and k-NN edges the
        # plain A X W smooths every node to the same vector within three layers, and Z Zᵀ collapses
        self.self_layers = nn.ModuleList([nn.Linear(embed_dim + 2 + 16, hidden, bias=False),
                                          nn.Linear(hidden, hidden, bias=False)])
        self.self_mu = nn.Linear(hidden, latent, bias=False)
        self.gate = nn.Embedding(num_categories, latent)
        nn.init.constant_(self.gate.weight, 1.0)
        self.bias = nn.Embedding(num_categories, 1)
        nn.init.zeros_(self.bias.weight)
        self.classifier = nn.Linear(latent, num_categories)

    def adjacency(self, pos: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """pos (M, K, 2), mask (M, K) → normalised kNN + self-loop adjacency (M, K, K)."""
        k = pos.shape[1]
        d = torch.cdist(pos, pos)
        d = d.masked_fill(~(mask[:, :, None] & mask[:, None, :]), float("inf"))
        d = d + torch.eye(k, device=pos.device) * 1e6  # neighbours exclude the node itself
        n = min(self.knn, k - 1)
        a = torch.zeros_like(d)
        if n > 0:
            idx = d.topk(n, dim=-1, largest=False).indices
            a.scatter_(-1, idx, 1.0)
        a = torch.maximum(a, a.transpose(1, 2)) * (mask[:, :, None] & mask[:, None, :])
        a = a + torch.diag_embed(mask.float())
        deg = a.sum(-1).clamp_min(1).rsqrt()
        return deg[:, :, None] * a * deg[:, None, :]

    def forward(self, feats: torch.Tensor, pos: torch.Tensor, mask: torch.Tensor, cats: torch.Tensor,
                sample: bool) -> dict[str, torch.Tensor]:
        """feats (M, K, D), pos (M, K, 2) in [-0.5, 0.5], mask (M, K), cats (M,) → link logits (M, K, K)."""
        a = self.adjacency(pos.detach(), mask)
        x = torch.cat([feats, pos, self.cat_embed(cats)[:, None].expand(-1, feats.shape[1], -1)], -1)
        for layer, own in zip(self.layers, self.self_layers):  # Eq. 6 layers: tanh(A X W)
            x = torch.tanh(a @ layer(x) + own(x))
        # μ, log σ² are linear graph convolutions (Kipf & Welling's VGAE): a tanh would keep σ ≥ e^-0.5
        mu, logvar = a @ self.mu(x) + self.self_mu(x), (a @ self.logvar(x)).clamp(-10, 10)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
        g = F.softplus(self.gate(cats))[:, None]  # (M, 1, F): the category condition of Eq. 7
        logits = (z * g) @ z.transpose(1, 2) + self.bias(cats)[:, :, None]
        m = mask.float()[..., None]
        pooled = (mu * m).sum(1) / m.sum(1).clamp_min(1)
        return {"logits": logits, "mu": mu, "logvar": logvar, "category_logits": self.classifier(pooled)}


def link_loss(out: dict[str, torch.Tensor], target: torch.Tensor, mask: torch.Tensor,
              cats: torch.Tensor) -> dict[str, torch.Tensor]:
    """target (M, K, K) 0/1 skeleton adjacency; returns unweighted recon, kl and category terms."""
    k = mask.shape[1]
    pair = mask[:, :, None] & mask[:, None, :] & ~torch.eye(k, dtype=torch.bool, device=mask.device)
    logits, t = out["logits"].float()[pair], target.float()[pair]
    pos_weight = ((1 - t).sum() / t.sum().clamp_min(1)).clamp(1, 20)
    recon = F.binary_cross_entropy_with_logits(logits, t, pos_weight=pos_weight) if len(t) else logits.sum()
    mu, lv = out["mu"].float(), out["logvar"].float()
    m = mask.float()
    kl = -0.5 * ((1 + lv - mu.pow(2) - lv.exp()).sum(-1) * m).sum() / m.sum().clamp_min(1) / mu.shape[-1]
    onehot = F.one_hot(cats, out["category_logits"].shape[-1]).float()
    category = (out["category_logits"].float().softmax(-1) - onehot).pow(2).sum(-1).mean()
    return {"recon": recon, "kl": kl, "category": category}
