"""Every error a user can cause: exit code 2, one line on stderr, no traceback, nothing overwritten."""

import pytest

from clihelpers import assert_user_error, barenet
from helpers import with_data


def test_unknown_recipe():
    assert_user_error(barenet("train", "--recipe", "mnist-turbo"), "unknown recipe 'mnist-turbo'")


def test_unknown_option():
    assert_user_error(barenet("train", "--learning-rate", "0.1"), "unrecognized arguments")


def test_unknown_command():
    assert_user_error(barenet("fly"), "invalid choice")


@pytest.mark.parametrize("args, fragment", [
    (["--lr", "fast"], "--lr must be a number"),
    (["--layers", "784,a,10"], "--layers must be comma-separated integers"),
    (["--batch-size", "half"], "--batch-size must be an integer or 'full'"),
    (["--activation", "swish"], "unknown hidden activation 'swish'"),
    (["--optimizer", "adagrad"], "unknown optimizer 'adagrad'"),
    (["--schedule", "linear"], "unknown schedule 'linear'"),
    (["--init", "kaiming"], "unknown initializer 'kaiming'"),
    (["--loss", "hinge"], "unknown loss 'hinge'"),
    (["--lr", "-1"], "non-negative"),
    (["--set", "train.epoch=3"], "unknown config key 'train.epoch' (did you mean 'train.epochs'?)"),
    (["--optimizer", "adam", "--momentum", "0.9"], "unknown config key 'optimizer.momentum'"),
    (["--set", "optimizer.lrr=0.1"], "(did you mean 'optimizer.lr'?)"),
    (["--set", "optimizer.nesterov=yes"], "'optimizer.nesterov' must be true or false"),
    (["--set", 'model.use_bias="no"'], "'model.use_bias' must be true or false"),
    (["--set", 'hints="abc"'], "'hints' must be a list"),
    (["--set", "model.layers=[784,1000000000,10]"], "<= 100000"),
    (["--set", "model.layers=[784,90000,90000,10]"], "parameters"),
    (["--set", "train.epochs=1000000000000"], "'train.epochs' must be >= 1 and <= 100000"),
    (["--set", "model.dropout=x"], "'model.dropout' must be a number"),
    (["--set", 'train.early_stopping="x"'], "'train.early_stopping' must be an integer"),
    (["--set", "model.activation={a=1}"], "'model.activation' must be a string or a list"),
    (["--set", "data.data_dir=5"], "'data.data_dir' must be a string"),
    (["--set", 'name="../../../x"'], "config key 'name'"),
    (["--set", 'name="a\u001b[31mb"'], "config key 'name'"),
    (["--seed", "-1"], "--seed must be a non-negative integer"),
    (["--subset", "0"], "--subset must be a positive integer"),
    (["--epochs", "0"], "--epochs must be a positive integer"),
    (["--set", "optimizer.name=\"adma\""], "(did you mean 'adam'?)"),
])
def test_bad_values(args, fragment, tmp_path):
    assert_user_error(barenet("train", *args, "--out", tmp_path / "x"), fragment)
    assert not (tmp_path / "x").exists()


@with_data("mnist")
def test_layers_that_do_not_fit_the_data(tmp_path):
    assert_user_error(barenet("train", "--layers", "785,10", "--out", tmp_path / "x"),
                      "starts with 785", "have 784")
    assert_user_error(barenet("train", "--layers", "784,32,9", "--out", tmp_path / "y"),
                      "ends with 9", "10 classes")


@with_data("mnist")
def test_non_empty_out_folder_is_refused_without_force(tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    assert_user_error(barenet("train", "--out", tmp_path, "--epochs", "1"), "not empty", "--force")
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


@with_data("mnist")
def test_nan_loss_names_the_epoch_and_keeps_the_checkpoint(tmp_path):
    out = tmp_path / "nan"
    result = barenet("train", "--subset", "2000", "--epochs", "3", "--layers", "784,64,10", "--lr", "1e36",
                     "--out", out)
    assert_user_error(result, "epoch 1", "lower the learning rate")
    assert (out / "config.toml").exists()


def test_missing_model_file(tmp_path):
    assert_user_error(barenet("evaluate", tmp_path / "none.safetensors"), "no model file")
    assert_user_error(barenet("predict", tmp_path / "none.safetensors", tmp_path / "x.png"), "no model file")


def test_corrupt_model_file(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"definitely not a model")
    assert_user_error(barenet("evaluate", bad), "not a readable safetensors file")


def test_non_image_file_to_predict(tmp_path):
    import barenet as bn

    model = bn.MLP([784, 10]).compile()
    model.save(tmp_path / "m.safetensors")
    text = tmp_path / "notes.png"
    text.write_text("this is text, not a PNG")
    assert_user_error(barenet("predict", tmp_path / "m.safetensors", text), "is not an image")


def test_resume_of_a_folder_that_is_not_a_run(tmp_path):
    assert_user_error(barenet("train", "--resume", tmp_path), "not a run folder")


def test_bad_config_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[model\nlayers = 3")
    assert_user_error(barenet("train", "--config", path), "not valid TOML")
    assert_user_error(barenet("train", "--config", tmp_path / "missing.toml"), "no config file")


def test_version():
    from barenet import __version__

    result = barenet("--version")
    assert result.returncode == 0 and result.stdout.startswith(f"barenet {__version__} (Python ")
