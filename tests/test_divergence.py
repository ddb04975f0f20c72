"""The divergence guard: a loss far above its start for an epoch stops training, for every optimizer,
with the weights of the epoch's start restored; healthy training never trips it."""

import numpy as np
import pytest

import barenet as bn
from barenet.errors import TrainingDiverged
from barenet.training.trainer import DIVERGENCE_FACTOR, Trainer


def blobs(n=600, seed=0):
    centers = np.random.default_rng(0).standard_normal((3, 10)) * 3
    rng = np.random.default_rng(seed + 1)
    y = rng.integers(0, 3, n)
    return (centers[y] + rng.standard_normal((n, 10))).astype(np.float32), y


@pytest.mark.parametrize("optimizer, message", [
    (bn.optimizers.Adam(lr=1e6), "the loss rose to"),        # finite (about 1e12): caught by the factor rule
    (bn.optimizers.RMSprop(lr=1e5), "the loss rose to"),
    (bn.optimizers.AdamW(lr=1e5), "the loss became"),        # these reach NaN/inf within the epoch
    (bn.optimizers.SGD(lr=1e3, momentum=0.9), "the loss became"),
])
def test_an_exploding_loss_is_divergence_for_every_optimizer(optimizer, message):
    x, y = blobs()
    model = bn.MLP([10, 32, 3], seed=0).compile(optimizer=optimizer)
    trainer = Trainer(model, batch_size=32)
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(TrainingDiverged, match=message):
        trainer.fit(x, y, epochs=5)
    assert trainer.epoch < 5
    assert np.isfinite(model.flat_params).all()
    assert trainer.evaluate(x, y)["loss"] <= DIVERGENCE_FACTOR * max(trainer.initial_loss, 0.01)


def test_healthy_training_never_trips_the_guard_and_its_yardstick_survives_a_state_round_trip():
    x, y = blobs()
    model = bn.MLP([10, 32, 3], seed=0).compile(optimizer=bn.optimizers.SGD(lr=0.1, momentum=0.9))
    trainer = Trainer(model, batch_size=32)
    trainer.fit(x, y, epochs=3)
    assert trainer.initial_loss is not None and trainer.history["loss"][-1] < trainer.initial_loss
    twin = Trainer(bn.MLP([10, 32, 3], seed=0).compile(optimizer=bn.optimizers.SGD(lr=0.1, momentum=0.9)))
    twin.load_state_dict(trainer.state_dict())
    assert twin.initial_loss == trainer.initial_loss
