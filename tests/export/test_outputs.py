import pytest
import torch

from kpdet.export.outputs import flatten_named, unflatten_named

T = torch.zeros(1)


@pytest.mark.parametrize("outputs, names", [
    ({"heatmaps": T}, ["heatmaps"]),
    (T, ["_"]),
    ([T, T], ["_.0", "_.1"]),
    ({"raw": [T, T, T], "images": T}, ["raw.0", "raw.1", "raw.2", "images"]),
    ({"a": {"b": [T, [T]]}}, ["a.b.0", "a.b.1.0"]),
])
def test_flatten_names_paths_and_unflatten_inverts_it(outputs, names):
    named = flatten_named(outputs)
    assert list(named) == names
    back = unflatten_named(named)
    assert flatten_named(back) == named
    assert type(back) is (list if isinstance(outputs, tuple) else type(outputs))


@pytest.mark.parametrize("bad", [{"a.b": T}, {"0": T}, {"_": T}, {"x": 3}])
def test_names_that_would_not_round_trip_are_refused(bad):
    with pytest.raises((ValueError, TypeError)):
        flatten_named(bad)


def test_missing_list_index_is_an_error():
    with pytest.raises(ValueError, match="not 0..1"):
        unflatten_named({"raw.0": T, "raw.2": T})
