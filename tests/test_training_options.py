"""Options only the training loss reads (MSPFN's edge_weight) do not make weights 'another architecture'."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from derainers.base import architecture_mismatch
from derainers.mspfn import MSPFN, mspfn_light, mspfn_tiny


def test_edge_weight_is_a_training_option_not_architecture() -> None:
    model = mspfn_tiny(edge_weight=0.0)
    assert architecture_mismatch(model, {"architecture": {**mspfn_tiny().architecture(), "edge_weight": 0.05}}) == []
    assert architecture_mismatch(model, {"model_kwargs": {"edge_weight": 0.05}}) == []
    # a real architecture option is still compared
    assert architecture_mismatch(model, {"model_kwargs": {"pyramid": "gaussian"}})


def test_weights_trained_with_edge_loss_load_into_a_model_without(tmp_path: Path) -> None:
    trained = mspfn_tiny()
    path = tmp_path / "w.pt"
    torch.save({"state_dict": trained.state_dict(), "architecture": trained.architecture()}, path)
    ablation = mspfn_tiny(edge_weight=0.0)
    ablation.load_weights(path)
    assert ablation.edge_weight == 0.0
    for name, tensor in trained.state_dict().items():
        assert torch.equal(ablation.state_dict()[name], tensor)


def test_shipped_default_found_whatever_the_edge_weight() -> None:
    default = mspfn_light().card.default_weights
    if default is None:
        pytest.skip("no shipped mspfn_light weights in this checkout")
    assert mspfn_light(edge_weight=0.0).card.default_weights == default
    assert "edge_weight" in MSPFN.training_options
    # another architecture still gets none
    assert mspfn_light(pyramid="gaussian").card.default_weights is None
