import math

import pytest

from barenet.errors import ConfigError
from barenet.optim import schedules


def test_constant_and_number():
    assert schedules.get(0.3)(100) == 0.3


def test_step_decay():
    s = schedules.StepDecay(1.0, step_size=3, gamma=0.5)
    assert [s(t) for t in range(7)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]


def test_exponential_decay():
    s = schedules.ExponentialDecay(0.2, gamma=0.9)
    assert s(3) == pytest.approx(0.2 * 0.9**3)


def test_cosine_with_warmup():
    s = schedules.CosineDecay(1.0, total=10, warmup=2, min_lr=0.1)
    assert s(0) == 0.0 and s(1) == pytest.approx(0.5)
    assert s(2) == pytest.approx(1.0)
    assert s(6) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert s(10) == pytest.approx(0.1) and s(50) == pytest.approx(0.1)


def test_reduce_on_plateau():
    s = schedules.ReduceOnPlateau(1.0, monitor="val_loss", factor=0.5, patience=1)
    for value in [1.0, 0.9, 0.9, 0.9]:
        s.observe({"val_loss": value})
    assert s(0) == 0.5  # two epochs without improvement > patience 1
    s.observe({"loss": 0.1})  # falls back to the training loss, which improved
    assert s(0) == 0.5


def test_plateau_state_round_trip():
    s = schedules.ReduceOnPlateau(1.0, patience=0)
    s.observe({"val_loss": 1.0})
    s.observe({"val_loss": 2.0})
    t = schedules.ReduceOnPlateau(1.0, patience=0)
    t.load_state_dict(s.state_dict())
    assert t(0) == s(0) == 0.1 and t.best == 1.0


@pytest.mark.parametrize("spec", [{"name": "linear"}, {"name": "step", "lr": 0.1}, {"name": "cosine", "lr": 1,
                                  "total": 5, "warmup": 5}, "fast", {"name": "exponential", "lr": 1, "gamma": 2}])
def test_bad_schedules(spec):
    with pytest.raises(ConfigError):
        schedules.get(spec)
