import numpy as np
import torch

from kpdet.engine.loader import EpochSampler, SafeDataset, SkipBadCollate
from kpdet.engine.seed import get_rng_state, seed_everything, set_rng_state
from kpdet.errors import DataError


def test_epoch_order_is_padded_seeded_and_skippable():
    s = EpochSampler(10, 4, seed=0)
    s.position(0)
    order = list(s)
    assert len(order) == 12 and sorted(set(order)) == list(range(10)) and order[10:] == order[:2]
    s.position(0, skip=8)
    assert list(s) == order[8:] and len(s) == 4
    s.position(1)
    assert list(s) != order
    assert list(EpochSampler(10, 4, seed=0, shuffle=False).order()[:3]) == [0, 1, 2]


class Flaky(torch.utils.data.Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        if i in (1, 2):
            raise DataError(f"img{i}.png", "image could not be decoded")
        return torch.tensor([i, np.random.randint(1000)]), {}, {"image_id": i}


def test_safe_dataset_replaces_bad_items_and_seeds_per_item():
    ds = SafeDataset(Flaky(), seed=0, replace=True)
    item, bad = ds[1]
    assert item[0][0].item() == 3 and [b[0] for b in bad] == [1, 2] and "img1.png" in bad[0][1]
    first = ds[0][0][0][1].item()
    assert ds[0][0][0][1].item() == first  # same (seed, epoch, index): same augmentation
    ds.epoch = 1
    assert any(ds[i][0][0][1].item() != SafeDataset(Flaky(), 0, replace=True)[i][0][0][1].item() for i in (0, 3, 4))
    none, bad = SafeDataset(Flaky(), seed=0, replace=False)[2]
    assert none is None and len(bad) == 1
    batch, bad = SkipBadCollate(lambda items: len(items))([ds[0], ds[1], (None, [(2, "x")])])
    assert batch == 2 and len(bad) == 3


def test_main_process_rng_is_untouched_by_item_seeding():
    seed_everything(5)
    state = get_rng_state()
    SafeDataset(Flaky(), seed=0, replace=True)[0]
    after = torch.rand(1)
    set_rng_state(state)
    assert torch.equal(after, torch.rand(1))
