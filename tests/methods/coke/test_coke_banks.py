import torch
import torch.nn.functional as F

from kpdet.methods.coke.banks import ClutterBank, KeypointBank


def test_cma_update_follows_eq4_and_renormalises():
    bank = KeypointBank(3, 2, momentum=0.9)
    bank.prototypes[:] = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    bank.count[:] = torch.tensor([5.0, 5.0, 0.0])
    feats = torch.tensor([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    rows = torch.tensor([0, 0, 1])
    mask = torch.tensor([True, True, False])
    sums, counts = bank.batch_statistics(feats, rows, mask)
    assert torch.equal(counts, torch.tensor([2.0, 0.0, 0.0]))
    bank.update(sums, counts)
    # μ0 ← 0.9·(1, 0) + 0.1·(0, 1), then unit length; μ1 (absent) and μ2 unchanged
    expect = F.normalize(torch.tensor([0.9, 0.1]), dim=0)
    torch.testing.assert_close(bank.prototypes[0], expect)
    torch.testing.assert_close(bank.prototypes[1], torch.tensor([0.0, 1.0]))
    assert torch.equal(bank.count, torch.tensor([7.0, 5.0, 0.0]))


def test_first_batch_initialises_prototype_with_its_mean():
    bank = KeypointBank(2, 2)
    feats = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    sums, counts = bank.batch_statistics(feats, torch.tensor([0, 0, 1]), torch.ones(3, dtype=torch.bool))
    fresh = bank.initialise_missing(sums, counts)
    assert fresh.tolist() == [True, True]
    torch.testing.assert_close(bank.prototypes[0], F.normalize(torch.tensor([0.5, 0.5]), dim=0))
    torch.testing.assert_close(bank.prototypes[1], torch.tensor([0.6, 0.8]))
    before = bank.prototypes.clone()
    bank.update(sums, counts, skip=fresh)  # the initialising batch is not averaged in twice
    torch.testing.assert_close(bank.prototypes, before)
    assert bank.initialised.all()


def test_periodic_mean_swaps_in_at_period_end():
    bank = KeypointBank(1, 2, mode="periodic", period=2)
    bank.prototypes[:] = torch.tensor([[1.0, 0.0]])
    bank.count[:] = 1
    for f in ([0.0, 1.0], [0.0, 3.0]):
        sums, counts = bank.batch_statistics(torch.tensor([f]), torch.tensor([0]), torch.tensor([True]))
        bank.update(sums, counts)
        if f[1] == 1.0:
            torch.testing.assert_close(bank.prototypes[0], torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(bank.prototypes[0], torch.tensor([0.0, 1.0]))


def test_clutter_bank_is_fifo_by_time_tag():
    bank = ClutterBank(groups=3, group_size=2, dim=1)
    assert not bank.valid.any()
    group = lambda v: torch.full((1, 2, 1), float(v))  # noqa: E731
    bank.push(torch.cat([group(1), group(2)]))
    assert bank.valid.tolist() == [True, True, True, True, False, False]
    bank.push(group(3))  # fills the empty slot
    bank.push(torch.cat([group(4), group(5)]))  # replaces the two oldest: 1 and 2
    values = sorted(bank.features[::2, 0].tolist())
    assert values == [3.0, 4.0, 5.0]
    assert bank.time.tolist() == [2, 2, 1] and int(bank.clock) == 3
    bank.push(group(6))  # now 3 (tag 1) is the oldest
    assert sorted(bank.features[::2, 0].tolist()) == [4.0, 5.0, 6.0]


def test_more_new_groups_than_slots_keeps_the_newest():
    bank = ClutterBank(groups=2, group_size=1, dim=1)
    bank.push(torch.arange(5.0).view(5, 1, 1))
    assert sorted(bank.features[:, 0].tolist()) == [3.0, 4.0]


def test_banks_are_checkpointed_buffers():
    bank, clutter = KeypointBank(2, 3), ClutterBank(4, 5, 3)
    assert {"prototypes", "count"} <= set(bank.state_dict())
    assert {"features", "time", "clock"} <= set(clutter.state_dict())
    assert not any(p.requires_grad for p in list(bank.buffers()) + list(clutter.buffers()))


def test_updates_combine_all_processes(monkeypatch):
    """Two processes holding the same batch: sums and counts double, both processes' groups enter."""
    from kpdet.methods.coke import banks

    def all_reduce(x):
        x.mul_(2)

    def all_gather(out, x):
        for o in out:
            o.copy_(x)

    monkeypatch.setattr(banks, "_world", lambda: 2)
    monkeypatch.setattr(torch.distributed, "all_reduce", all_reduce)
    monkeypatch.setattr(torch.distributed, "all_gather", all_gather)
    bank = KeypointBank(1, 2)
    sums, counts = bank.batch_statistics(torch.tensor([[0.0, 1.0]]), torch.tensor([0]), torch.tensor([True]))
    assert counts.tolist() == [2.0] and sums.tolist() == [[0.0, 2.0]]
    clutter = ClutterBank(groups=4, group_size=1, dim=1)
    clutter.push(torch.ones(1, 1, 1))
    assert int(clutter.valid.sum()) == 2 and int(clutter.clock) == 1
