"""Augmentation maths: the warp kernel, affine maps, elastic fields, seeding and resumable state."""

import math

import numpy as np
import pytest

import barenet as bn
from barenet import kernels
from barenet.data import augment
from barenet.data.augment import Augment, gaussian_matrix, inverse_maps
from barenet.data.transforms import PIXEL_SCALE
from barenet.errors import ConfigError
from barenet.kernels import warps
from helpers import assert_kernel_close, with_data

SIDE = 28
NONE = np.zeros((0, 2, SIDE, SIDE), np.float32)
STILL = {"rotation": 0.0, "scale": (1.0, 1.0), "shear": 0.0, "shift": 0.0}


def digits(count=6, seed=0) -> np.ndarray:
    """(count, 784) uint8 blobs: a bright bar and a dot per image, at random places."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, SIDE, SIDE), np.uint8)
    for image in images:
        row, col = rng.integers(6, 20, size=2)
        image[row - 4:row + 4, col - 1:col + 2] = 255
        image[row + 5, col + 3] = 200
    return images.reshape(count, SIDE * SIDE)


def centre_of_mass(images: np.ndarray) -> np.ndarray:
    """(N, 2) (x, y) centres of mass of (N, 784) images."""
    grid = images.reshape(-1, SIDE, SIDE).astype(np.float64)
    ys, xs = np.mgrid[0:SIDE, 0:SIDE]
    total = grid.sum(axis=(1, 2))
    return np.stack([(grid * xs).sum(axis=(1, 2)) / total, (grid * ys).sum(axis=(1, 2)) / total], axis=1)


def warp(x, maps, fields=NONE, dtype=np.float32, factor=1 / 255):
    out = np.empty((len(maps), SIDE * SIDE), dtype)
    warps.warp_bilinear(x, np.arange(len(maps)), maps, fields, SIDE, SIDE, factor, out)
    return out


# ----- the warp --------------------------------------------------------------------
def test_identity_transform_changes_nothing():
    x = digits()
    out = Augment(["affine"], seed=0, **STILL)(x, np.arange(len(x)))
    np.testing.assert_array_equal(out, x.astype(np.float32) * np.float32(PIXEL_SCALE))


@pytest.mark.parametrize("shift", [(3, 0), (0, -2), (-1, 4)])
def test_a_shift_by_k_pixels_moves_the_ink_by_k(shift):
    x = digits()
    maps = inverse_maps(np.tile(np.eye(2), (len(x), 1, 1)), np.tile(np.asarray(shift, float), (len(x), 1)),
                        ((SIDE - 1) / 2, (SIDE - 1) / 2))
    moved = warp(x, maps).reshape(-1, SIDE, SIDE)
    expected = np.zeros((len(x), SIDE, SIDE), np.float32)
    dx, dy = shift
    source = x.reshape(-1, SIDE, SIDE).astype(np.float32) * np.float32(PIXEL_SCALE)
    expected[:, max(dy, 0):SIDE + min(dy, 0), max(dx, 0):SIDE + min(dx, 0)] = \
        source[:, max(-dy, 0):SIDE - max(dy, 0), max(-dx, 0):SIDE - max(dx, 0)]
    np.testing.assert_array_equal(moved, expected)


def test_random_shifts_move_the_centre_of_mass_by_the_drawn_shift():
    x = digits(20)
    moved = Augment(["affine"], seed=3, **{**STILL, "shift": 2.5})(x, np.arange(20))
    twin = Augment(["affine"], seed=3, **{**STILL, "shift": 2.5}).matrices(20, SIDE, SIDE)
    np.testing.assert_array_equal(twin[:, :, :2], np.tile(np.eye(2, dtype=np.float32), (20, 1, 1)))
    shifts = -twin[:, :, 2]  # a pure shift t reads pixel p from p - t
    assert np.abs(shifts).max() <= 2.5 and np.abs(shifts).std() > 0.3
    np.testing.assert_allclose(centre_of_mass(moved) - centre_of_mass(x), shifts, atol=0.02)


def test_flip_mirrors_exactly_or_not_at_all():
    x = digits(40)
    out = Augment(["flip"], seed=1)(x, np.arange(40)).reshape(-1, SIDE, SIDE)
    plain = x.reshape(-1, SIDE, SIDE).astype(np.float32) * np.float32(PIXEL_SCALE)
    mirrored = [np.array_equal(o, p[:, ::-1]) for o, p in zip(out, plain)]
    kept = [np.array_equal(o, p) for o, p in zip(out, plain)]
    assert all(m or k for m, k in zip(mirrored, kept))
    assert 10 <= sum(mirrored) <= 30  # about half


def test_erase_zeroes_one_rectangle_and_leaves_the_rest_and_the_warp_alone():
    x = digits(200)
    warped = Augment(["affine"], seed=5)(x, np.arange(200))
    erasing = Augment(["affine", "erase"], seed=5, erase_probability=0.5, erase_area=(0.05, 0.2))
    erased = erasing(x, np.arange(200))
    changed = (erased != warped).reshape(-1, SIDE, SIDE)
    np.testing.assert_array_equal(erased[~changed.reshape(200, -1)], warped[~changed.reshape(200, -1)])
    assert (erased[changed.reshape(200, -1)] == 0).all()
    masks = Augment(["erase"], seed=6, erase_probability=1.0, erase_area=(0.05, 0.2)).erased(500, SIDE, SIDE)
    for mask in masks:  # one solid rectangle each, of the asked-for area (to rounding of its sides)
        rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        assert mask.sum() == len(rows) * len(columns) == mask[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1].sum()
        assert 0.02 * SIDE * SIDE <= mask.sum() <= 0.3 * SIDE * SIDE
    hit = Augment(["erase"], seed=7, erase_probability=0.5).erased(1000, SIDE, SIDE).any(axis=(1, 2))
    assert 430 <= hit.sum() <= 570
    assert not Augment(["erase"], seed=7, erase_probability=0.0).erased(100, SIDE, SIDE).any()


def test_erasing_settings_leave_older_fingerprints_alone():
    from barenet.runs import config as cfg
    from barenet.runs.folder import fingerprint

    elastic = cfg.resolve(recipe="mnist-elastic")
    older = {**elastic, "augment": {k: v for k, v in elastic["augment"].items() if not k.startswith("erase")}}
    assert fingerprint(elastic) == fingerprint(older)  # run folders from before `erase` still resume
    erasing = cfg.resolve(recipe="mnist-elastic", overrides={"augment.transforms": ["affine", "erase"]})
    assert fingerprint(erasing) != fingerprint(cfg.resolve(recipe="mnist-elastic", overrides={
        "augment.transforms": ["affine", "erase"], "augment.erase_area": [0.1, 0.2]}))


def test_rotation_keeps_the_ink_and_turns_it():
    x = digits(10)
    out = Augment(["affine"], seed=2, **{**STILL, "rotation": 30.0})(x, np.arange(10))
    ink_before = x.astype(np.float64).sum(axis=1) / 255
    np.testing.assert_allclose(out.sum(axis=1), ink_before, rtol=0.05)  # bilinear resampling keeps mass
    assert not np.allclose(out, x / 255, atol=0.1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("elastic", [False, True])
@pytest.mark.parametrize("source", ["uint8", "float32"])
def test_fused_warp_equals_reference(dtype, elastic, source):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (50, SIDE * SIDE)).astype(source)
    index = rng.integers(0, 50, 33)
    augment = Augment(["affine"], seed=1)
    maps = augment.matrices(33, SIDE, SIDE)
    fields = augment.fields(33, SIDE, SIDE) if elastic else NONE
    outs = []
    for impl in (warps.warp_bilinear, kernels.fused().warp_bilinear):
        out = np.empty((33, SIDE * SIDE), dtype)
        impl(x, index, maps, fields, SIDE, SIDE, 1 / 255 if source == "uint8" else 1.0, out)
        outs.append(out)
    assert_kernel_close([outs[0]], [outs[1]], dtype)


# ----- elastic fields ----------------------------------------------------------------
def test_gaussian_matrix_is_the_zero_padded_gaussian_filter():
    sigma, radius = 4.0, 16
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    delta = np.zeros(SIDE)
    delta[5] = 1.0
    filtered = np.convolve(delta, taps)[radius:radius + SIDE]  # zero padding: the taps past the edge are lost
    np.testing.assert_allclose(gaussian_matrix(SIDE, sigma) @ delta, filtered, atol=1e-15)


def test_elastic_fields_have_simards_magnitude_and_covariance():
    alpha, sigma, count = 34.0, 4.0, 4000
    fields = Augment(["elastic"], seed=0, alpha=alpha, sigma=sigma).fields(count, SIDE, SIDE).astype(np.float64)
    g = gaussian_matrix(SIDE, sigma)
    row_var = (g @ g.T).diagonal()
    expected_std = alpha * np.sqrt(np.outer(row_var, row_var) / 3)  # uniform in [-1, 1]: variance 1/3
    measured = fields.std(axis=0)
    np.testing.assert_allclose(measured[0], expected_std, rtol=0.08)
    np.testing.assert_allclose(measured[1], expected_std, rtol=0.08)
    assert 1.2 < expected_std[14, 14] < 1.6  # about 1.4 pixels at the centre for alpha 34, sigma 4
    brute = alpha * np.einsum("ij,njk,lk->nil", g, np.random.default_rng(1).uniform(-1, 1, (count, SIDE, SIDE)), g)
    for (r1, c1), (r2, c2) in [((14, 14), (14, 17)), ((3, 3), (5, 8)), ((14, 14), (20, 14))]:
        ours = np.corrcoef(fields[:, 0, r1, c1], fields[:, 0, r2, c2])[0, 1]
        theirs = np.corrcoef(brute[:, r1, c1], brute[:, r2, c2])[0, 1]
        assert abs(ours - theirs) < 0.06, (ours, theirs)


def test_elastic_fields_are_smooth():
    fields = Augment(["elastic"], seed=0).fields(200, SIDE, SIDE)
    step = np.abs(np.diff(fields, axis=-1)).mean()
    assert step < 0.25 * np.abs(fields).mean()  # neighbours move together (white noise: about 1.1)
    assert np.corrcoef(fields[:, 0, 14, 14], fields[:, 0, 14, 15])[0, 1] > 0.95


def test_elastic_and_affine_together_stay_finite_and_in_range():
    x = digits(64)
    out = Augment(["affine", "elastic"], seed=0)(x, np.arange(64))
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1 and out.sum() > 0


# ----- seeding and state -------------------------------------------------------------
def test_the_same_seed_gives_the_same_batch():
    x = digits(32)
    a, b, c = (Augment(["affine", "elastic", "flip"], seed=s) for s in (7, 7, 8))
    batch = np.arange(32)
    first = a(x, batch)
    np.testing.assert_array_equal(first, b(x, batch))
    assert not np.array_equal(first, c(x, batch))
    assert not np.array_equal(a(x, batch), first)  # the next batch is distorted afresh


def test_state_dict_resumes_the_stream():
    x = digits(16)
    a = Augment(["affine", "elastic"], seed=4)
    a(x, np.arange(16))
    state = a.state_dict()
    want = a(x, np.arange(16))
    b = Augment(["affine", "elastic"], seed=99)
    b.load_state_dict(state)
    np.testing.assert_array_equal(b(x, np.arange(16)), want)


def test_trainer_resumes_bit_for_bit_with_augmentation():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (300, SIDE * SIDE), dtype=np.uint8), rng.integers(0, 10, 300)

    def model():
        return bn.MLP([784, 16, 10], seed=1).compile(loss="softmax_cross_entropy", optimizer="sgd")

    straight = bn.Trainer(model(), batch_size=50, augment=Augment(["affine", "elastic"], seed=5))
    straight.fit(x, y, epochs=3)
    first = bn.Trainer(model(), batch_size=50, augment=Augment(["affine", "elastic"], seed=5))
    first.fit(x, y, epochs=1)
    state = first.state_dict()
    assert "augment" in state["progress"]
    second = bn.Trainer(model(), batch_size=50, augment=Augment(["affine", "elastic"], seed=123))
    second.load_state_dict(state)
    second.fit(x, y, epochs=3)
    for a, b in zip(straight.model.get_weights(), second.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_fit_takes_an_augmentation():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (200, SIDE * SIDE), dtype=np.uint8), rng.integers(0, 10, 200)
    model = bn.MLP([784, 8, 10], seed=0).compile(loss="softmax_cross_entropy", optimizer="sgd")
    plain = bn.MLP([784, 8, 10], seed=0).compile(loss="softmax_cross_entropy", optimizer="sgd")
    model.fit(x, y, epochs=1, batch_size=50, verbose=0, augment=bn.Augment(["affine"], seed=0))
    plain.fit(x, y, epochs=1, batch_size=50, verbose=0)
    assert not np.array_equal(model.get_weights()[0], plain.get_weights()[0])


# ----- settings ------------------------------------------------------------------------
@pytest.mark.parametrize("options, fragment", [
    ({"transforms": ["blur"]}, "unknown augmentation 'blur'"),
    ({"scale": (1.2, 0.8)}, "0 < low <= high"),
    ({"scale": (1.0,)}, "two numbers"),
    ({"sigma": 0.0}, "sigma"),
    ({"rotation": 200.0}, "0-180 degrees"),
])
def test_bad_settings_are_one_line_errors(options, fragment):
    options = {"transforms": ["affine"], **options}
    with pytest.raises(ConfigError, match=fragment):
        Augment(**options)


def test_non_square_images_need_a_shape():
    with pytest.raises(ConfigError, match="shape"):
        Augment(["affine"])(np.zeros((4, 10), np.uint8), np.arange(4))
    out = Augment(["affine"], shape=(2, 5), **STILL)(np.full((4, 10), 255, np.uint8), np.arange(4))
    np.testing.assert_array_equal(out, np.ones((4, 10), np.float32))


def test_elastic_basis_keeps_what_matters():
    basis = augment.smoothing_basis(SIDE, 4.0)
    g = gaussian_matrix(SIDE, 4.0)
    assert basis.shape[1] < SIDE // 2  # far fewer directions than pixels
    kept = np.linalg.norm(basis @ basis.T - g @ g.T) / np.linalg.norm(g @ g.T)
    assert kept < 1e-3
    assert math.isclose(float(np.linalg.norm(basis, 2) ** 2), float(np.linalg.norm(g, 2) ** 2), rel_tol=1e-5)


# ----- configs and the command line ----------------------------------------------------
def test_old_run_folders_keep_their_fingerprint():
    from barenet.runs import config as cfg
    from barenet.runs.folder import fingerprint

    config = cfg.resolve(recipe="mnist")
    older = {k: v for k, v in config.items() if k != "augment"}  # a config.toml written before [augment]
    older["train"] = {k: v for k, v in config["train"].items() if k != "test_each_epoch"}
    assert fingerprint(config) == fingerprint(older)
    assert fingerprint(cfg.resolve(recipe="mnist", overrides={"augment.transforms": ["affine"]})) != fingerprint(config)


def test_recipes_build_their_augmentation():
    from barenet.runs import config as cfg

    built = cfg.build_augment(cfg.resolve(recipe="mnist-elastic"))
    assert built is not None and built.transforms == ("affine", "elastic")
    assert (built.alpha, built.sigma, built.rotation, built.scale) == (36.0, 6.0, 15.0, (0.85, 1.15))  # Ciresan's
    record = cfg.resolve(recipe="mnist-record")
    wider = cfg.build_augment(record)
    assert wider.transforms == built.transforms and wider.parameters() == built.parameters()  # same distortions
    assert record["model"]["layers"] == [784, 2048, 2048, 10]
    assert cfg.build_augment(cfg.resolve(recipe="mnist")) is None
    assert "flip" in cfg.build_augment(cfg.resolve(recipe="fashion-aug")).transforms


@pytest.mark.parametrize("args, fragments", [
    (["--augment", "blur"], ["augment.transforms", "blur"]),
    (["--augment", "affine", "--set", "data.scale=standardize"], ["data.scale = 'unit'"]),
    (["--augment", "elastic", "--set", "augment.sigma=0"], ["augment.sigma"]),
    (["--augment", "erase", "--set", "augment.erase_area=[0.5,0.1]"], ["erase_area"]),
])
def test_bad_augmentation_on_the_command_line(args, fragments):
    from clihelpers import assert_user_error, barenet

    assert_user_error(barenet("train", *args), *fragments)


@with_data("mnist")
def test_data_show_draws_augmented_digits(tmp_path):
    from clihelpers import assert_user_error, barenet

    out = tmp_path / "aug.png"
    result = barenet("data", "show", "--augment", "affine,elastic", "--set", "augment.alpha=38", "--count", "20",
                     "--out", out)
    assert result.returncode == 0, result.stderr
    from PIL import Image

    with Image.open(out) as image:
        assert image.size[0] > 800 and image.size[1] > 200
    assert_user_error(barenet("data", "show", "--augment", "affine", "--set", "model.layers=[1]"), "augment.")
