"""Photos as people take them: each preprocessing stage on small synthetic pictures, the synthetic
photo set (deterministic per seed), and the default recipe's model reading it."""

from __future__ import annotations

import io
from collections import deque

import numpy as np
import pytest
from PIL import Image, ImageDraw

from barenet.data import components, images, ink, photos

PAPER, INK = 230.0, 30.0


def seven(size=(320, 240), at=(0.5, 0.5), height=150, width=14) -> np.ndarray:
    """(H, W) float32 ink coverage in [0, 1] of a '7' `height` pixels tall drawn with a pen `width` wide."""
    image = Image.new("L", size, 0)
    x, y = at[0] * size[0], at[1] * size[1]
    top, bottom, half = y - height / 2, y + height / 2, height * 0.35
    ImageDraw.Draw(image).line([(x - half, top), (x + half, top), (x - 0.1 * half, bottom)], fill=255, width=width,
                               joint="curve")
    return np.asarray(image, dtype=np.float32) / 255.0


def photograph(coverage: np.ndarray, light: np.ndarray | float = 1.0, paper: float = PAPER) -> np.ndarray:
    """Gray levels (H, W) of dark ink on paper under `light` (a factor per pixel)."""
    return (light * (paper * (1 - coverage) + INK * coverage)).astype(np.float32)


def ramp(shape, darkest=0.35) -> np.ndarray:
    """(H, W) light falling from 1 on the left to `darkest` on the right."""
    return np.broadcast_to(np.linspace(1.0, darkest, shape[1], dtype=np.float32), shape)


def centre_of_mass(digit: np.ndarray) -> tuple[float, float]:
    mass = digit.astype(np.float64)
    return (mass.sum(axis=1) @ np.arange(28)) / mass.sum(), (mass.sum(axis=0) @ np.arange(28)) / mass.sum()


def differ(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two uint8 images, in gray levels."""
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


def test_a_lighting_gradient_is_divided_out():
    coverage = seven()
    light = ramp(coverage.shape)
    stages = images.photo_stages(photograph(coverage, light))
    paper = coverage == 0
    truth = PAPER * light
    assert np.median(np.abs(stages.paper[paper] - truth[paper]) / truth[paper]) < 0.05
    assert np.percentile(stages.ink[paper], 99) < 0.15 and np.median(stages.ink[coverage == 1]) > 0.7
    flat = images.to_mnist(photograph(coverage))
    assert differ(stages.digit, flat) < 6
    assert differ(images.simple_to_mnist(photograph(coverage, light)), flat) > 20  # what 0.1 did: the dark side was ink


def test_polarity_is_read_from_the_strokes_both_ways():
    gray = photograph(seven(), ramp((240, 320), darkest=0.6))
    dark, light = images.photo_stages(gray), images.photo_stages(255.0 - gray)
    assert not dark.inverted and light.inverted
    assert differ(dark.digit, light.digit) < 6


def test_a_thin_pen_stroke_survives_and_is_thickened_towards_mnist():
    rng = np.random.default_rng(0)
    thin = photograph(seven(size=(400, 400), width=3)) + rng.normal(0, 3, size=(400, 400)).astype(np.float32)
    digit = images.to_mnist(thin)
    reference = images.to_mnist(photograph(seven(size=(400, 400), width=18)))
    assert (digit > 128).sum() > 40
    assert np.corrcoef(digit.ravel(), reference.ravel())[0, 1] > 0.75
    assert images.stroke_width(images.photo_stages(thin).box) > images.stroke_width(images.scale_to(
        images.crop_to_ink(images.photo_stages(thin).strokes), images.WIDTH_BOX))


def test_an_off_centre_digit_is_centred_by_mass():
    corner = images.to_mnist(photograph(seven(size=(600, 400), at=(0.85, 0.2), height=90, width=9)))
    centred = images.to_mnist(photograph(seven(size=(600, 400), height=90, width=9)))
    cy, cx = centre_of_mass(corner)
    assert abs(cy - images.MNIST_CENTRE) <= 0.5 and abs(cx - images.MNIST_CENTRE) <= 0.5
    assert differ(corner, centred) < 4


def test_specks_far_from_the_digit_are_dropped():
    coverage = seven(size=(400, 300))
    specked = coverage.copy()
    for y, x in [(20, 20), (280, 30), (20, 380), (270, 370), (150, 20)]:
        specked[y: y + 4, x: x + 4] = 1.0
    assert differ(images.to_mnist(photograph(specked)), images.to_mnist(photograph(coverage))) < 2


def test_a_digit_already_in_mnist_form_comes_back_nearly_unchanged():
    first = images.to_mnist(photograph(seven()))
    again = images.to_mnist(first.astype(np.float32))  # white on black, 28x28: MNIST's own form
    rows, cols = np.nonzero(again > 0)
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 in (20, 21)
    cy, cx = centre_of_mass(again)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    assert differ(first, again) < 8


def test_real_mnist_digits_come_back_nearly_unchanged(mnist):
    _, _, x_test, _ = mnist
    digits = x_test[:200]
    again = np.stack([images.to_mnist(digit.astype(np.float32)) for digit in digits])
    assert differ(again, digits) < 10  # simple_to_mnist, half a pixel off centre: about 14
    centres = np.array([centre_of_mass(digit) for digit in again])
    assert np.abs(centres.mean(axis=0) - 14).max() < 0.1


def test_otsu_splits_two_populations():
    rng = np.random.default_rng(1)
    values = np.clip(np.concatenate([rng.normal(0.1, 0.04, 5000), rng.normal(0.8, 0.05, 500)]), 0, 1)
    assert 0.2 < ink.otsu(values) < 0.7


def bfs_components(mask: np.ndarray) -> int:
    """How many 8-connected components `mask` has, by breadth-first search (the reference)."""
    seen, count = np.zeros_like(mask), 0
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        count, queue = count + 1, deque([start])
        seen[start] = True
        while queue:
            y, x = queue.popleft()
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    p = (y + dy, x + dx)
                    if 0 <= p[0] < mask.shape[0] and 0 <= p[1] < mask.shape[1] and mask[p] and not seen[p]:
                        seen[p] = True
                        queue.append(p)
    return count


def test_component_labels_match_a_breadth_first_search():
    rng = np.random.default_rng(2)
    for density in (0.2, 0.4, 0.55):
        mask = rng.random((30, 40)) < density
        labels = components.label(mask)
        assert ((labels > 0) == mask).all()
        assert len(np.unique(labels[mask])) == bfs_components(mask)
        for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):  # touching pixels share a label
            a = labels[max(0, -dy):30 - dy, max(0, -dx):40 - max(dx, 0)]
            b = labels[dy:, max(0, dx):40 + min(dx, 0)][: a.shape[0], : a.shape[1]]
            both = (a > 0) & (b > 0)
            assert (a[both] == b[both]).all()


def test_a_blank_photo_is_an_error():
    from barenet.errors import InputError

    with pytest.raises(InputError, match="no visible digit"):
        images.to_mnist(photograph(np.zeros((200, 300), dtype=np.float32), ramp((200, 300))))


def test_the_stage_strip_shows_every_stage():
    strip = images.stage_strip(images.photo_stages(photograph(seven())))
    panels = len(images.STAGE_NAMES)
    assert strip.shape == (images.PANEL + 28, panels * (images.PANEL + 8) + 8) and strip.dtype == np.uint8


@pytest.fixture(scope="module")
def shapes():
    """Ten MNIST-form digits drawn here (no dataset needed), labels 0..9."""
    digits = [images.to_mnist(photograph(seven(height=80 + 8 * k, width=6 + k))) for k in range(10)]
    return np.stack(digits), np.arange(10)


def test_photos_are_the_same_for_a_seed_and_differ_across_seeds(shapes):
    first, again = photos.make_photos(*shapes, 20, seed=3), photos.make_photos(*shapes, 20, seed=3)
    assert [p.data for p in first] == [p.data for p in again]
    assert [p.data for p in photos.make_photos(*shapes, 20, seed=4)] != [p.data for p in first]


def test_photos_cover_every_condition_at_photo_sizes(shapes):
    made = photos.make_photos(*shapes, 20, seed=0)
    assert [p.condition for p in made] == list(photos.CONDITIONS) * 2
    for photo in made:
        image = Image.open(io.BytesIO(photo.data))
        assert image.format == ("JPEG" if photo.condition == "jpeg" else "PNG")
        assert 200 <= min(image.size) and max(image.size) <= 600
        assert photo.label in range(10)


@pytest.fixture(scope="module")
def default_model(mnist, tmp_path_factory):
    """The default recipe (`barenet train`), trained as `barenet train` would (about 10 s)."""
    from barenet.models.loading import load
    from barenet.runs import config as cfg
    from barenet.runs.run import run
    from helpers import data_folder

    config = cfg.resolve(recipe="mnist", overrides={"data.data_dir": str(data_folder("mnist"))})
    out = tmp_path_factory.mktemp("default") / "run"
    run(config, out=out, quiet=True)
    return load(out / "model.safetensors")


# 40 photos a condition. Measured 96.75% (387 of 400) with the default recipe trained at seed 0; 1000 photos
# give 97.1% (docs/RESULTS.md). The bar leaves 5 photos for a model that differs by BLAS rounding: the issue's
# 97% is not met with room to spare, so the test does not claim it.
PHOTOS, BAR = 400, 0.955


def test_the_default_model_reads_the_synthetic_photos(mnist, default_model):
    _, _, x_test, y_test = mnist
    made = photos.make_photos(x_test, y_test, PHOTOS, seed=0)
    digits, read = photos.read_photos(made)
    predicted = np.where(read, default_model.predict_proba(digits).argmax(axis=1), -1)
    table = photos.accuracy_by_condition(made, predicted)
    print(table)
    assert table["all"] >= BAR, table
