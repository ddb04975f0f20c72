"""Run reports: the plots' ranges and layouts, per-class scores with their labels."""

import numpy as np
from PIL import Image

from barenet.apps.grid import plot_grid
from barenet.runs import reports


def test_focus_range_leaves_a_collapsed_run_below_the_range():
    low, high = reports.focus_range([97.1, 97.9, 98.2, 10.3])
    assert 10.3 < low < 97.1 and 98.2 < high <= 100
    assert reports.focus_range([]) == (0.0, 100.0)


def test_weight_mosaic_tiles_square_units_with_gaps():
    weights = np.arange(16 * 5, dtype=np.float32).reshape(16, 5) - 40
    mosaic = reports.weight_mosaic(weights, units=5, cols=3)
    assert mosaic.shape == (2 * 5 - 1, 3 * 5 - 1)  # 4x4 tiles, one NaN pixel between
    assert np.isnan(mosaic[4]).all() and np.isnan(mosaic[:, 4]).all()
    assert np.nanmax(np.abs(mosaic)) == 1.0
    np.testing.assert_allclose(mosaic[:4, :4], (weights[:, 0] / 40).reshape(4, 4))


def test_first_layer_plot_stays_small(tmp_path):
    rng = np.random.default_rng(0)
    smooth = np.cumsum(np.cumsum(rng.normal(size=(64, 28, 28)), axis=1), axis=2).reshape(64, 784).T
    reports.plot_first_layer(smooth.astype(np.float32), tmp_path / "w.png")
    assert (tmp_path / "w.png").stat().st_size < 200_000


def test_learning_curves_have_a_learning_rate_panel_and_a_title(tmp_path):
    rows = [{"epoch": e, "loss": 1 / e, "accuracy": 0.9 + e / 100, "test_loss": 1.2 / e, "test_accuracy": 0.9 + e / 110,
             "lr": 0.1 * 0.5 ** e} for e in range(1, 6)]
    reports.plot_learning_curves(rows, tmp_path / "c.png", title="run-x: mnist")
    with Image.open(tmp_path / "c.png") as image:
        assert image.width > 2.5 * image.height  # three panels side by side


def test_grid_plot_with_a_collapsed_run(tmp_path):
    rows = [{"optimizer.lr": lr, "test_accuracy": acc, "status": "ok"} for lr, acc in
            ((0.3, 0.101), (0.1, 0.978), (0.03, 0.975))]
    plot_grid(rows, ["optimizer.lr"], tmp_path / "g.png")
    assert (tmp_path / "g.png").stat().st_size > 1000


def test_per_class_scores_carry_class_names():
    counts = np.array([[5, 1], [0, 4]])
    rows = reports.per_class_scores(counts, ["cat", "dog"])
    assert [r["class"] for r in rows] == ["cat", "dog"] and rows[0]["recall"] == 5 / 6
    assert "class" not in reports.per_class_scores(counts)[0]


def test_the_mistakes_plot_takes_flat_rows_and_no_mistakes(tmp_path):
    rng = np.random.default_rng(0)
    rows, labels = rng.random((50, 784)), rng.integers(0, 3, 50)
    proba = rng.dirichlet(np.ones(3), 50)
    reports.plot_misclassified(rows, labels, proba, ["a", "b", "c"], tmp_path / "m.png")
    reports.plot_misclassified(rows[:2], labels[:2], np.eye(3)[labels[:2]], ["a", "b", "c"], tmp_path / "none.png")
    with Image.open(tmp_path / "m.png") as many, Image.open(tmp_path / "none.png") as none:
        assert many.height > 3 * none.height  # six rows of mistakes; none: the title alone
