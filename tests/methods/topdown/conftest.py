import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The CI machine's 2 cores are shared: one intra-op thread avoids spin-waiting threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
