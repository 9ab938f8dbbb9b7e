"""The method interface: the only thing engine/, data/, eval/ and the CLI know about a method.

A method owns its model, target encoding, loss wiring and decoding. The engine does::

    method = MethodClass.from_config(cfg.method, schemas)            # schemas: {category_id: KeypointSchema}
    ds = method.build_dataset(coco, train=True)                       # yields (image (3,H,W) float, targets, meta)
    loader = DataLoader(ds, collate_fn=method.collate, ...)
    images, targets, meta = batch
    outputs = method(images)                                          # any pytree of tensors
    terms = method.loss(outputs, targets)                             # {name: already-weighted scalar}
    preds = method.decode(outputs, meta)                              # list[Prediction], image coordinates

``encode(sample)`` turns one augmented :class:`~kpdet.structures.Sample` into targets; it runs
inside DataLoader workers, so it must be picklable and use NumPy/torch on the CPU only.
State that is not a parameter (banks, running statistics) lives in registered buffers, so
checkpoints and DDP carry it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from kpdet.schema import KeypointSchema
from kpdet.structures import Prediction, Sample


class MethodConfig(BaseModel):
    """Base of every method's config; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")
    name: str


class Method(nn.Module):
    name: ClassVar[str]
    Config: ClassVar[type[MethodConfig]]

    def __init__(self, cfg: MethodConfig, schemas: dict[int, KeypointSchema]):
        super().__init__()
        self.cfg = cfg
        self.schemas = dict(schemas)

    # -- construction -----------------------------------------------------------------
    @classmethod
    def from_config(cls, cfg: MethodConfig | dict[str, Any], schemas: dict[int, KeypointSchema]) -> "Method":
        if not isinstance(cfg, cls.Config):
            cfg = cls.Config.model_validate(cfg)
        return cls(cfg, schemas)

    def check_schemas(self, schemas: dict[int, KeypointSchema], source: str) -> None:
        """Raise ConfigError when a dataset's keypoint sets disagree with what the model was built for."""
        from kpdet.errors import ConfigError

        mine = {c: s.num_keypoints for c, s in self.schemas.items()}
        theirs = {c: s.num_keypoints for c, s in schemas.items()}
        for c, k in theirs.items():
            if c in mine and mine[c] != k:
                raise ConfigError(f"{source}: category {c} has {k} keypoints, the model was built for {mine[c]}")
        if not set(theirs) & set(mine):
            raise ConfigError(f"{source}: categories {sorted(theirs)} share none with the model's {sorted(mine)}")

    # -- data -------------------------------------------------------------------------
    def build_dataset(self, coco: Any, *, train: bool, boxes: Any = None) -> torch.utils.data.Dataset:
        """A dataset of (image tensor, targets, meta) for this method (train: augmented)."""
        raise NotImplementedError

    def encode(self, sample: Sample) -> dict[str, Any]:
        raise NotImplementedError

    def collate(self, items: Sequence[tuple[torch.Tensor, dict[str, Any], dict[str, Any]]]):
        """Default: stack images and every tensor/array target; metas stay a list."""
        images = torch.stack([it[0] for it in items])
        targets = {k: torch.stack([torch.as_tensor(it[1][k]) for it in items]) for k in items[0][1]}
        return images, targets, [it[2] for it in items]

    # -- model ------------------------------------------------------------------------
    def loss(self, outputs: Any, targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def decode(self, outputs: Any, meta: list[dict[str, Any]]) -> list[Prediction]:
        raise NotImplementedError

    def predict_batch(self, images: torch.Tensor, meta: list[dict[str, Any]]) -> list[Prediction]:
        """Forward + decode at test time; methods with test-time augmentation override this."""
        return self.decode(self(images), meta)

    def postprocess(self, predictions: list[Prediction]) -> list[Prediction]:
        """Across-batch step on all predictions of a dataset (e.g. pose NMS per image); default: none."""
        return predictions

    # -- export -----------------------------------------------------------------------
    def export_outputs(self, outputs: Any) -> dict[str, torch.Tensor]:
        """The tensors of ``forward``'s outputs that ``decode`` consumes, flat and named: the outputs
        of an exported graph. Default: every tensor, named by its path (``heatmaps``, ``raw.0``);
        a method drops what only training uses. :meth:`import_outputs` inverts it."""
        from kpdet.export.outputs import flatten_named

        return flatten_named(outputs)

    def import_outputs(self, named: dict[str, torch.Tensor]) -> Any:
        """The ``decode`` input rebuilt from :meth:`export_outputs`' named tensors."""
        from kpdet.export.outputs import unflatten_named

        return unflatten_named(named)

    def decode_state(self) -> tuple[str, ...]:
        """``state_dict`` entries (names or module prefixes) that decoding reads outside the
        forward pass (e.g. prototypes): an exported model carries them beside its graph."""
        return ()

    @classmethod
    def example_input(cls, cfg: MethodConfig) -> torch.Tensor:
        """(1, 3, H, W) input for FLOP counts, export and smoke tests."""
        raise NotImplementedError
