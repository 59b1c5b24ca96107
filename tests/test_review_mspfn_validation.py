"""Regression tests from the MSPFN / losses / patch-sampling review: edge cases that used to pass silently
or fail late with an unrelated error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.engine.patches import PatchDataset, PatchSampler, PatchSpec
from derainers import mspfn as mm


# ----------------------------------------------------------------------------- MSPFN construction / input
def test_negative_cau_count_is_refused() -> None:
    """``range(-1)`` is empty: N = -1 used to build URABs without CAUs under a card saying "N-1"."""
    with pytest.raises(ValueError, match="cau_per_scale"):
        mm.mspfn_tiny(cau_per_scale=-1)
    with pytest.raises(ValueError, match="cau_per_scale"):
        mm.mspfn_tiny(cau_per_scale=(1, -2, 1))
    assert len(mm.mspfn_tiny(cau_per_scale=0).ffms[0].urab1.caus) == 0  # N = 0 (no CAU) stays allowed


@pytest.mark.parametrize(
    "kwargs",
    [{"channels": 0}, {"lstm_input": 0}, {"rm_mid": 0}, {"cau_reduction": 0}, {"lstm_hidden": (0, 4, 4)}],
)
def test_non_positive_widths_are_refused_at_construction(kwargs: dict[str, object]) -> None:
    """These used to build (or raise ZeroDivisionError) and fail only at the first forward pass."""
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        mm.mspfn_tiny(**kwargs)


@pytest.mark.parametrize("shape", [(1, 3, 0, 8), (1, 3, 8, 0)])
def test_empty_image_gets_the_size_error(shape: tuple[int, ...]) -> None:
    """0 is a multiple of 8: an empty image passed the check and failed inside avg_pool2d."""
    with pytest.raises(ValueError, match="positive multiples of 8"):
        mm.mspfn_tiny()(torch.zeros(shape))


def test_validation_keeps_shipped_architectures() -> None:
    for factory in (mm.mspfn, mm.mspfn_light):
        with torch.device("meta"):
            model = factory()
        assert model.card.default_weights == "RainTrainL", factory.__name__


# ----------------------------------------------------------------------------- patch sampler
def test_sampler_refuses_seeds_numpy_would_alias() -> None:
    """NumPy splits a seed >= 2**32 into two 32-bit words, so [2**32 + s, 0, e] == [s, 1, 0, e]: the
    permutation of one seed was the crop stream of another. Negative seeds failed only at batch 0."""
    s = 7
    aliased = np.random.default_rng([2**32 + s, 0, 3]).permutation(10)
    assert np.array_equal(aliased, np.random.default_rng([s, 1, 0, 3]).permutation(10))  # the collision
    for seed in (2**32 + s, 2**40, -1):
        with pytest.raises(ValueError, match="seed"):
            PatchSampler(10, 4, seed=seed)
    sampler = PatchSampler(10, 4, seed=2**32 - 1)  # the largest one-word seed still works
    assert len(sampler.batch(0)) == 4
    with pytest.raises(ValueError, match="seed"):
        sampler.load_state_dict({**sampler.state_dict(), "seed": -3})


def test_sampler_streams_unchanged_for_ordinary_seeds() -> None:
    """The validation must not change the stream of a valid seed (resumed runs depend on it)."""
    batch = PatchSampler(10, 4, seed=0).batch(0)
    perm = np.random.default_rng([0, 0, 0]).permutation(10)
    fracs = np.random.default_rng([0, 1, 0, 0]).random((4, 2))
    assert [spec.index for spec in batch] == [int(i) for i in perm[:4]]
    assert [(spec.fy, spec.fx) for spec in batch] == [(float(a), float(b)) for a, b in fracs]


@pytest.mark.parametrize(("rank", "world_size"), [(2, 2), (3, 2), (-1, 2), (0, 0)])
def test_sampler_refuses_rank_outside_world(rank: int, world_size: int) -> None:
    """Rank 3 of 2 used to read exactly rank 1's samples one step later (duplicated data, no error)."""
    with pytest.raises(ValueError, match="rank"):
        PatchSampler(10, 4, rank=rank, world_size=world_size)


def test_patch_dataset_refuses_out_of_range_fractions() -> None:
    """A negative fraction sliced from the end of the image: an empty or short patch, not an error."""
    ds = PatchDataset([], patch_size=4)
    image = np.arange(10 * 12 * 3, dtype=np.uint8).reshape(10, 12, 3)
    ds._cache[0] = (image, image)  # no files: a decoded pair in the cache
    rainy, _ = ds[PatchSpec(0, 1.0, 0.0, 0)]  # 1.0 is the bottom edge
    assert tuple(rainy.shape) == (3, 4, 4)
    for fy, fx in ((-0.5, 0.0), (0.0, -0.01), (1.5, 0.0)):
        with pytest.raises(ValueError, match="fractions"):
            ds[PatchSpec(0, fy, fx, 0)]
