"""End to end: a two-layer MLP learns XOR with AdamW (modules, fused ops, backward, optimizer)."""
import numpy as np

import tinytorch as tt
import tinytorch.functional as F

INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
TARGETS = np.array([0, 1, 1, 0])          # XOR: no single line separates the classes


def test_mlp_learns_xor_with_adamw():
    generator = np.random.default_rng(0)
    model = tt.nn.Sequential(tt.nn.Linear(2, 8, generator=generator), tt.nn.GELU(),
                             tt.nn.Linear(8, 2, generator=generator))
    optimizer = tt.optim.AdamW(model.parameters(), lr=0.05)
    x = tt.tensor(INPUTS)
    losses = []
    for step in range(500):
        loss = F.cross_entropy(model(x), TARGETS)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if losses[-1] < 0.05:
            break
    assert losses[-1] < 0.05, f"loss after {len(losses)} steps: {losses[-1]:.4f}"
    assert losses[0] > 0.5                   # it started out not knowing XOR
    with tt.no_grad():
        assert model(x).argmax(dim=1).tolist() == TARGETS.tolist()
    assert all(p.dtype == np.float32 for p in model.parameters())
