"""MNIST-style preprocessing of image files, and `barenet predict` on digits rendered with a font."""

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from barenet.data import images
from barenet.errors import InputError
from clihelpers import barenet


def font(size: int):
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return ImageFont.truetype(str(path), size)


def render(digit: str, canvas=(320, 240), at=(40, 20), size=150, dark_on_light=True, mode="L") -> Image.Image:
    paper, ink = (235, 20) if dark_on_light else (10, 250)
    image = Image.new(mode, canvas, paper if mode == "L" else (paper,) * 3)
    ImageDraw.Draw(image).text(at, digit, fill=ink if mode == "L" else (ink,) * 3, font=font(size))
    return image


def test_to_mnist_fits_20x20_and_centres_the_mass():
    digit = images.to_mnist(np.asarray(render("7", canvas=(600, 400), at=(380, 200)), dtype=np.float32))
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    rows, cols = np.nonzero(digit > 30)
    assert rows.max() - rows.min() < 21 and cols.max() - cols.min() < 21
    mass = digit.astype(float)
    cy = (mass.sum(axis=1) @ np.arange(28)) / mass.sum()
    cx = (mass.sum(axis=0) @ np.arange(28)) / mass.sum()
    assert abs(cy - 13.5) < 1 and abs(cx - 13.5) < 1
    assert digit[0].max() == 0 and digit[:, 0].max() == 0  # white on black, background black


def test_both_polarities_and_positions_give_the_same_digit():
    a = images.to_mnist(np.asarray(render("3", dark_on_light=True, at=(10, 10)), dtype=np.float32))
    b = images.to_mnist(np.asarray(render("3", dark_on_light=False, at=(150, 60)), dtype=np.float32))
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 8


def test_blank_image_is_an_error():
    with pytest.raises(InputError, match="no visible digit"):
        images.to_mnist(np.full((50, 50), 200.0))


@pytest.mark.parametrize("level", [0.0, 3.0, 128.0, 255.0])
def test_a_flat_image_of_any_level_is_no_digit(level):
    """All black used to read as ink everywhere ("8, 92.9%") while all white was refused: both are refused."""
    with pytest.raises(InputError, match="no visible digit"):
        images.to_mnist(np.full((40, 30), level))


@pytest.fixture(scope="module")
def mnist_model(mnist, tmp_path_factory):
    import barenet as bn

    x, y, _, _ = mnist
    model = bn.MLP([784, 256, 10], seed=0).compile(optimizer=bn.optimizers.SGD(lr=0.1, momentum=0.9))
    model.fit(x, y, epochs=3, batch_size=128)
    path = tmp_path_factory.mktemp("model") / "mnist.safetensors"
    model.save(path, extra={"classes": [str(i) for i in range(10)]})
    return path


def test_predict_rendered_digits(mnist_model, tmp_path):
    files = []
    for digit in "0123456789":
        path = tmp_path / f"digit{digit}.png"
        shift = int(digit) * 13
        render(digit, canvas=(500, 380), at=(60 + shift, 40 + shift), size=180, mode="RGB").save(path)
        files.append(path)
    result = barenet("predict", mnist_model, *files, "--save-preprocessed", tmp_path / "seen")
    assert result.returncode == 0, result.stderr
    predicted = dict(re.findall(r"digit(\d)\.png: (\d)", result.stdout))
    assert len(predicted) == 10, result.stdout
    correct = sum(truth == guess for truth, guess in predicted.items())
    print(result.stdout)
    assert correct >= 8, result.stdout
    assert len(re.findall(r"\d+\.\d%", result.stdout.splitlines()[0])) == 3  # top-3 probabilities
    seen = sorted((tmp_path / "seen").glob("*.28x28.png"))
    assert len(seen) == 10 and Image.open(seen[0]).size == (28, 28)
    assert len(list((tmp_path / "seen").glob("*.stages.png"))) == 10  # every stage, side by side


def test_save_preprocessed_never_overwrites_without_force(tmp_path):
    import barenet as bn

    model = bn.MLP([784, 16, 10], seed=0).compile(optimizer=bn.optimizers.SGD(lr=0.1))
    model.save(tmp_path / "tiny.safetensors", extra={"classes": [str(i) for i in range(10)]})
    render("4", mode="RGB").save(tmp_path / "four.png")
    seen = tmp_path / "seen"
    first = barenet("predict", tmp_path / "tiny.safetensors", tmp_path / "four.png", "--save-preprocessed", seen)
    assert first.returncode == 0, first.stderr
    strip = Image.open(seen / "four.stages.png")
    assert strip.size[0] > 5 * strip.size[1] / 2  # the stages side by side
    before = (seen / "four.28x28.png").read_bytes()
    (seen / "four.28x28.png").write_bytes(b"mine")
    again = barenet("predict", tmp_path / "tiny.safetensors", tmp_path / "four.png", "--save-preprocessed", seen)
    assert again.returncode == 2 and "--force" in again.stderr and "Traceback" not in again.stderr
    assert (seen / "four.28x28.png").read_bytes() == b"mine"
    forced = barenet("predict", tmp_path / "tiny.safetensors", tmp_path / "four.png", "--save-preprocessed", seen,
                     "--force")
    assert forced.returncode == 0 and (seen / "four.28x28.png").read_bytes() == before


def test_two_images_with_one_name_are_refused(tmp_path):
    import barenet as bn

    model = bn.MLP([784, 16, 10], seed=0).compile(optimizer=bn.optimizers.SGD(lr=0.1))
    model.save(tmp_path / "tiny.safetensors", extra={"classes": [str(i) for i in range(10)]})
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        render("4").save(tmp_path / folder / "four.png")
    result = barenet("predict", tmp_path / "tiny.safetensors", tmp_path / "a" / "four.png", tmp_path / "b" / "four.png",
                     "--save-preprocessed", tmp_path / "seen")
    assert result.returncode == 2 and "both be saved as four.28x28.png" in result.stderr
    assert not (tmp_path / "seen").exists()
