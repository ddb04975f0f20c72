"""Whole networks: gradient checks, reproducibility, training behaviour and user errors."""

import warnings

import numpy as np
import pytest

import barenet as bn
from barenet import backend
from barenet.errors import BarenetWarning, ConfigError, InputError, LabelError, ShapeError, TrainingDiverged
from barenet.nn import layers
from barenet.training.callbacks import EarlyStopping, LambdaCallback, ModelCheckpoint, StopAtTarget
from helpers import numeric_gradient, relative_error

TOL = 1e-6


def check_network(model, x, y, loss="softmax_cross_entropy"):
    """Every parameter gradient of a float64 network against central differences of the loss,
    on the fused kernels and on the NumPy reference."""
    for name in ("fused", "numpy"):
        config = model.get_config()
        on_kernels = bn.Sequential([layers.from_config(layer) for layer in config["layers"]], output=config["output"],
                                   seed=config["seed"], dtype=config["dtype"],
                                   device=backend.get_backend("cpu", kernels=name))
        on_kernels.compile(loss=loss, optimizer="sgd")
        assert on_kernels.backend.kernels.name == name
        check_network_gradients(on_kernels, x, y)


def check_network_gradients(model, x, y):
    dropouts = [layer for layer in model.layers if isinstance(layer, layers.Dropout)]

    # The same masks for every evaluation. Masks that drop every unit a ReLU let through for some sample leave
    # that sample's next pre-activations equal to the bias (0), on a LeakyReLU's kink, where a central difference
    # is not the derivative; seeds 200 + i avoid that for the networks below.
    def fixed_masks():
        for i, layer in enumerate(dropouts):
            layer.build(np.random.default_rng(200 + i))

    def loss_value():
        fixed_masks()
        return model.loss.forward(model.forward_to_loss(x), y)

    fixed_masks()
    model.compute_gradients(x, y)
    params, grads = model.parameters()
    analytic = [g.copy() for g in grads]
    assert len(params) > 0
    for i, (param, grad) in enumerate(zip(params, analytic)):
        err = relative_error(grad, numeric_gradient(loss_value, param))
        assert err < TOL, f"parameter {i} {param.shape}: relative error {err}"


def toy_data(rng, n=8, features=5, classes=3):
    return rng.standard_normal((n, features)), rng.integers(0, classes, n)


def test_gradients_one_hidden_layer(rng):
    x, y = toy_data(rng)
    check_network(bn.MLP([5, 7, 3], activation="tanh", dtype="float64", seed=1), x, y)


def test_gradients_three_hidden_layers_every_activation(rng):
    x, y = toy_data(rng)
    model = bn.Sequential([
        layers.Dense(5, 6), layers.ReLU(), layers.Dropout(0.3),
        layers.Dense(6, 6), layers.LeakyReLU(0.1), layers.Sigmoid(),
        layers.Dense(6, 4), layers.Tanh(), layers.Softmax(),
        layers.Dense(4, 3),
    ], dtype="float64", seed=2)
    check_network(model, x, y)


def test_gradients_ten_hidden_layers_mixed(rng):
    x, y = toy_data(rng)
    acts = ["relu", "leaky_relu", "sigmoid", "tanh"] * 2 + ["relu", "tanh"]
    model = bn.MLP([5] + [6] * 10 + [3], activation=acts, dropout=[0.0] * 9 + [0.2], dtype="float64", seed=3)
    check_network(model, x, y)


@pytest.mark.parametrize("output, loss", [
    ("softmax", "mse"), ("softmax", "categorical_cross_entropy"), ("sigmoid", "sigmoid_binary_cross_entropy"),
    ("sigmoid", "binary_cross_entropy"), ("linear", "mse"),
])
def test_gradients_through_output_activation_and_loss(rng, output, loss):
    x, y = toy_data(rng)
    check_network(bn.MLP([5, 6, 3], output=output, dtype="float64", seed=4), x, y, loss=loss)


def test_mse_on_softmax_trains_through_a_softmax_layer():
    model = bn.MLP([5, 3], output="softmax").compile(loss="mse")
    assert isinstance(model.output_layer, layers.Softmax)
    fused = bn.MLP([5, 3], output="softmax").compile(loss="softmax_cross_entropy")
    assert fused.output_layer is None


def small_problem(n=600, seed=0):
    """Three Gaussian blobs in 10-D: easy, fast, learnable."""
    centers = np.random.default_rng(0).standard_normal((3, 10)) * 3
    rng = np.random.default_rng(seed + 1)
    y = rng.integers(0, 3, n)
    x = (centers[y] + rng.standard_normal((n, 10))).astype(np.float32)
    return x, y


def trained(seed=0, **fit):
    x, y = small_problem()
    model = bn.MLP([10, 16, 3], seed=seed, dropout=0.1).compile(optimizer=bn.optimizers.SGD(lr=0.1, momentum=0.9))
    history = model.fit(x, y, **{"epochs": 3, "batch_size": 32, **fit})
    return model, history


def test_same_seed_same_weights_different_seed_differs():
    a, _ = trained(seed=0)
    b, _ = trained(seed=0)
    c, _ = trained(seed=1)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(a.get_weights(), c.get_weights()))


def test_training_learns_and_reports_history():
    x, y = small_problem(seed=1)
    model, history = trained(validation_data=(x, y), epochs=5)
    assert len(history) == 5
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.9
    assert model.evaluate(x, y)["accuracy"] == pytest.approx(history["val_accuracy"][-1])


@pytest.mark.parametrize("batch_size", [1, None, 7])
def test_batch_sizes_per_sample_and_full_batch(batch_size):
    x, y = small_problem(n=90)
    model = bn.MLP([10, 8, 3], seed=0).compile(optimizer=bn.optimizers.SGD(lr=0.05 if batch_size == 1 else 0.5))
    history = model.fit(x, y, epochs=4, batch_size=batch_size)
    assert history["loss"][-1] < history["loss"][0]


def test_full_batch_is_one_step_per_epoch():
    x, y = small_problem(n=50)
    steps = []
    model = bn.MLP([10, 3]).compile()
    model.fit(x, y, epochs=2, batch_size=None, callbacks=[LambdaCallback(on_batch_end=lambda b, logs: steps.append(b))])
    assert steps == [0, 0]


def test_validation_split_holds_out_the_tail():
    x, y = small_problem(n=100)
    model = bn.MLP([10, 3]).compile()
    history = model.fit(x, y, epochs=1, validation_split=0.2)
    assert "val_loss" in history.history
    with pytest.raises(ConfigError):
        model.fit(x, y, validation_split=1.5)


def test_predict_and_predict_proba():
    model, _ = trained()
    x, y = small_problem(n=20, seed=3)
    proba = model.predict_proba(x)
    assert proba.shape == (20, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(model.predict(x), proba.argmax(axis=1))


def test_uint8_images_are_scaled_and_flattened():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 4, 4), dtype=np.uint8)
    labels = rng.integers(0, 2, 40)
    model = bn.MLP([16, 2], output="softmax").compile()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(images, labels, epochs=1)
    np.testing.assert_allclose(model.predict_logits(images), model.predict_logits(images.reshape(40, 16) / 255.0),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("options", [{}, {"input_dropout": 0.2}])
def test_uint8_inference_matches_scaled_floats_across_chunks(options):
    # uint8 inference folds 1/255 into the first layer's weights; more rows than one EVAL_BATCH chunk
    images = np.random.default_rng(1).integers(0, 256, (2100, 16), dtype=np.uint8)
    model = bn.MLP([16, 8, 3], seed=2, **options).compile()
    np.testing.assert_allclose(model.predict_logits(images), model.forward(images / np.float32(255.0)),
                               rtol=1e-5, atol=1e-6)


def test_unscaled_float_pixels_warn():
    x = np.random.default_rng(0).uniform(0, 255, (30, 16))
    model = bn.MLP([16, 2]).compile()
    with pytest.warns(BarenetWarning, match="unscaled 0-255 pixels"):
        model.fit(x, np.zeros(30, dtype=int), epochs=1)


def test_double_softmax_warns():
    model = bn.Sequential([layers.Dense(4, 3), layers.Softmax()])
    with pytest.warns(BarenetWarning, match="double-softmax"):
        model.compile(loss="softmax_cross_entropy")


def test_output_and_loss_must_agree():
    with pytest.raises(ConfigError, match="output="):
        bn.MLP([4, 3], output="sigmoid").compile(loss="softmax_cross_entropy")


def test_sigmoid_output_with_binary_cross_entropy_learns():
    x, y = small_problem()
    model = bn.MLP([10, 16, 3], output="sigmoid").compile(optimizer=bn.optimizers.SGD(lr=0.5))
    assert model.loss.name == "sigmoid_binary_cross_entropy"
    model.fit(x, y, epochs=5, batch_size=16)
    assert model.evaluate(x, y)["accuracy"] > 0.9


# ----- errors a user can cause -------------------------------------------------
@pytest.fixture
def compiled():
    return bn.MLP([10, 4, 3]).compile()


def test_wrong_feature_count(compiled):
    with pytest.raises(ShapeError, match="11 features.*takes 10"):
        compiled.fit(np.zeros((5, 11)), np.zeros(5, dtype=int))


def test_labels_out_of_range(compiled):
    with pytest.raises(LabelError, match=r"\[0, 3\): found 3 at index 2"):
        compiled.fit(np.zeros((5, 10)), np.array([0, 1, 3, 1, 0]))
    with pytest.raises(LabelError, match="subtract 1"):
        compiled.fit(np.zeros((3, 10)), np.array([1, 2, 3]))
    with pytest.raises(LabelError, match="found -1"):
        compiled.evaluate(np.zeros((2, 10)), np.array([0, -1]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs(compiled, bad):
    x = np.zeros((5, 10))
    x[3, 7] = bad
    with pytest.raises(InputError, match="row 3, column 7"):
        compiled.fit(x, np.zeros(5, dtype=int))


def test_empty_data(compiled):
    with pytest.raises(InputError, match="empty"):
        compiled.fit(np.zeros((0, 10)), np.zeros(0, dtype=int))


def test_label_count_mismatch(compiled):
    with pytest.raises(ShapeError, match="4 labels for 5 samples"):
        compiled.fit(np.zeros((5, 10)), np.zeros(4, dtype=int))


def test_sizes_that_do_not_chain():
    with pytest.raises(ConfigError, match="do not chain"):
        bn.Sequential([layers.Dense(4, 3), layers.ReLU(), layers.Dense(5, 2)])


@pytest.mark.parametrize("kwargs, match", [
    ({"activation": "swish"}, "unknown hidden activation 'swish'"),
    ({"init": "kaiming"}, "unknown initializer 'kaiming'"),
    ({"output": "softplus"}, "unknown output 'softplus'"),
    ({"dropout": 1.2}, "probability to drop"),
])
def test_unknown_names(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        bn.MLP([4, 5, 3], **kwargs)


def test_unknown_optimizer_and_negative_lr():
    with pytest.raises(ConfigError, match="unknown optimizer 'adagrad'"):
        bn.MLP([4, 3]).compile(optimizer="adagrad")
    with pytest.raises(ConfigError, match="non-negative"):
        bn.MLP([4, 3]).compile(optimizer={"name": "sgd", "lr": -1})


def test_bad_sizes_and_batch():
    with pytest.raises(ConfigError, match="at least two positive integers"):
        bn.MLP([784])
    model = bn.MLP([10, 3]).compile()
    with pytest.raises(ConfigError, match="batch_size"):
        model.fit(np.zeros((4, 10)), np.zeros(4, dtype=int), batch_size=0)


def test_not_compiled():
    with pytest.raises(ConfigError, match="compile"):
        bn.MLP([10, 3]).fit(np.zeros((4, 10)), np.zeros(4, dtype=int))


def test_nan_loss_stops_and_restores_last_good_weights():
    x, y = small_problem()
    model = bn.MLP([10, 64, 3], seed=0).compile(optimizer=bn.optimizers.SGD(lr=0.01))
    model.fit(x, y, epochs=1)
    good = model.get_weights()
    model.optimizer.schedule.initial_lr = 1e6
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match="lower the learning rate") as info:
        model.fit(x * 1e3, y, epochs=3, batch_size=8)
    assert "epoch 1" in str(info.value)
    for w, g in zip(model.get_weights(), good):
        np.testing.assert_array_equal(w, g)


# ----- callbacks --------------------------------------------------------------
def test_early_stopping_restores_best():
    x, y = small_problem()
    xv, yv = small_problem(n=100, seed=5)
    stopper = EarlyStopping(monitor="val_loss", patience=0, restore_best_weights=True)
    model = bn.MLP([10, 32, 3]).compile(optimizer=bn.optimizers.SGD(lr=0.5))  # noisy: val loss will wobble
    model.fit(x, y, epochs=30, validation_data=(xv, yv), callbacks=[stopper])
    assert stopper.stopped_epoch is not None and stopper.stopped_epoch < 29
    assert model.evaluate(xv, yv)["loss"] == pytest.approx(stopper.best, rel=1e-5)


def test_stop_at_target_loss():
    x, y = small_problem()
    stop = StopAtTarget(target=0.5, monitor="loss")
    model = bn.MLP([10, 16, 3]).compile(optimizer=bn.optimizers.SGD(lr=0.1))
    history = model.fit(x, y, epochs=100, callbacks=[stop])
    assert stop.reached_epoch is not None and len(history) == stop.reached_epoch + 1 < 100
    assert history["loss"][-1] <= 0.5


def test_model_checkpoint_writes_loadable_files(tmp_path):
    x, y = small_problem()
    model = bn.MLP([10, 8, 3]).compile()
    model.fit(x, y, epochs=2, callbacks=[ModelCheckpoint(tmp_path / "ep{epoch}.safetensors", save_best_only=False)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ep1.safetensors", "ep2.safetensors"]
    np.testing.assert_array_equal(bn.load(tmp_path / "ep2.safetensors").predict(x), model.predict(x))


def test_summary_prints_a_table_and_summary_text_returns_it(capsys):
    model = bn.MLP([784, 128, 64, 10])
    assert model.summary() is None
    printed = capsys.readouterr().out
    assert printed.strip() == model.summary_text().strip()
    assert "109,386" in printed and "Dense(784 -> 128" in printed and "(batch, 64)" in printed
    model.compile(optimizer=bn.optimizers.SGD(lr=0.1, momentum=0.9))
    assert "optimizer: SGD(lr=0.1, momentum=0.9)" in model.summary_text()
    lines = []
    model.summary(print_fn=lines.append)
    assert lines == [model.summary_text()]


def test_models_layers_optimizers_and_losses_say_what_they_are():
    model = bn.MLP([784, 128, 10], dropout=0.2)
    assert repr(model) == "MLP([784, 128, 10], dropout=0.2, output='softmax', 101,770 parameters, not compiled)"
    model.compile(optimizer=bn.optimizers.SGD(lr=0.05, momentum=0.9, nesterov=True))
    assert repr(model).endswith("SoftmaxCrossEntropy() + SGD(lr=0.05, momentum=0.9, nesterov=True))")
    assert repr(bn.optimizers.Adam()) == "Adam(lr=0.001)"
    assert repr(bn.optimizers.SGD(lr={"name": "cosine", "lr": 0.1, "total": 10})) == \
        "SGD(lr=CosineDecay(lr=0.1, total=10))"
    assert repr(bn.losses.get({"name": "mse", "reduction": "sum"})) == "MeanSquaredError(reduction='sum')"
    net = bn.Sequential([layers.Dense(4, 3), layers.ReLU(), layers.Dense(3, 2)])
    assert "(1) ReLU()" in repr(net) and "object at" not in repr(net)


def small_fit_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def test_fit_talks_by_default_with_a_bar_per_epoch(capsys):
    x, y = small_fit_data()
    history = bn.MLP([6, 8, 2]).compile(optimizer="sgd").fit(x, y, epochs=2, validation_split=0.2)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "val_accuracy" in err
    assert history.params["epochs"] == 2 and history.epoch == [0, 1]
    assert repr(history).startswith("History(2 epochs; epoch 2: loss ")


def test_fit_verbose_2_prints_one_line_per_epoch_and_0_nothing(capsys):
    x, y = small_fit_data()
    model = bn.MLP([6, 8, 2]).compile(optimizer="sgd")
    model.fit(x, y, epochs=3, verbose=2)
    out = capsys.readouterr()
    assert [line.split(":")[0] for line in out.out.splitlines()] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert out.err == ""
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr() == ("", "")
    with pytest.raises(ConfigError, match="verbose must be"):
        model.fit(x, y, verbose="loud")
