"""Cache-sized chunks of a batch for the decoders' CPU paths.

A batch of 256 crops' 17 × 64 × 48 heatmaps is 53 MB: every full-size temporary is a fresh
allocation that the kernel backs page by page, which costs more than the arithmetic on it, and
streams through memory instead of cache. Working on ~2 MB of maps at a time keeps the temporaries
in cache and lets the allocator reuse them. Other devices take the whole batch at once.
"""

from __future__ import annotations

import torch

CPU_CHUNK_ELEMENTS = 1 << 19


def chunk_items(n: int, item_elements: int, device: torch.device) -> int:
    """How many items of ``item_elements`` values each to process at once on ``device`` (≥ 1)."""
    if device.type != "cpu":
        return max(n, 1)
    return max(1, CPU_CHUNK_ELEMENTS // max(item_elements, 1))
