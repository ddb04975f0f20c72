"""barenet serve's REST API through FastAPI's TestClient: predictions equal `barenet predict`'s, bad input is a 4xx."""

from __future__ import annotations

import io
import socket
import sys
import warnings

import numpy as np
import pytest

import barenet as bn
from barenet.errors import ConfigError
from clihelpers import assert_user_error, barenet

pytest.importorskip("fastapi", reason='barenet serve needs the serve extra: pip install "barenet[serve]"')
pytest.importorskip("python_multipart", reason='barenet serve needs the serve extra: pip install "barenet[serve]"')
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # starlette's TestClient on httpx

with warnings.catch_warnings():  # starlette deprecates its TestClient on httpx in favour of httpx2
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from barenet.apps.serve.app import create_app  # noqa: E402
from barenet.apps.serve.limits import Limits  # noqa: E402
from barenet.data import images  # noqa: E402


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A small untrained network (the API does not care how good it is), saved with run-style metadata."""
    path = tmp_path_factory.mktemp("serve") / "tiny.safetensors"
    bn.MLP([784, 32, 10], seed=0).save(path, extra={"name": "tiny", "dataset": "mnist", "input": {"scale": "unit"},
                                                     "classes": [f"c{i}" for i in range(10)], "test_accuracy": 0.5})
    return path


@pytest.fixture(scope="module")
def client(model_file):
    return TestClient(create_app(model_file))


def png(draw=True, size=(120, 120), mode="L") -> bytes:
    """A dark stroke on white paper (or blank paper), as PNG bytes."""
    image = Image.new(mode, size, "white")
    if draw:
        ImageDraw.Draw(image).line([(size[0] * 0.5, size[1] * 0.15), (size[0] * 0.4, size[1] * 0.85)], fill="black",
                                   width=max(3, size[0] // 12))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def assert_error(response, status: int, *fragments: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert list(body) == ["error"] and "\n" not in body["error"], body
    for fragment in fragments:
        assert fragment in body["error"], body["error"]


def test_health_and_model_info(client):
    assert client.get("/api/health").json() == {"status": "ok", "model": "tiny"}
    info = client.get("/api/model").json()
    assert info["sizes"] == [784, 32, 10] and info["parameters"] == 784 * 32 + 32 + 32 * 10 + 10
    assert info["dataset"] == "mnist" and info["test_accuracy"] == 0.5 and info["classes"][3] == "c3"
    assert info["layers"][1] == "ReLU()" and info["file"] == "tiny.safetensors"


def test_an_uploaded_image_gets_what_barenet_predict_computes(client, model_file, tmp_path):
    (tmp_path / "digit.png").write_bytes(png())
    digit = images.to_mnist(images.load_grayscale(tmp_path / "digit.png"))
    want = bn.load(model_file).predict_proba(digit[None])[0]
    for response in (client.post("/api/predict", files={"file": ("digit.png", png(), "image/png")}),
                     client.post("/api/predict", content=png(), headers={"Content-Type": "image/png"})):
        assert response.status_code == 200, response.text
        body = response.json()
        np.testing.assert_allclose(body["probabilities"], want, rtol=1e-6)
        assert body["class"] == int(want.argmax()) and body["label"] == f"c{want.argmax()}"
        np.testing.assert_array_equal(np.array(body["preprocessed"], dtype=np.uint8), digit)


def test_json_pixels_one_image_and_a_batch(client, model_file, rng):
    x = rng.integers(0, 256, size=(3, 784), dtype=np.uint8)
    want = bn.load(model_file).predict_proba(x)
    one = client.post("/api/predict", json={"pixels": x[0].tolist()})
    assert one.status_code == 200 and one.json()["class"] == int(want[0].argmax())
    np.testing.assert_allclose(one.json()["probabilities"], want[0], rtol=1e-6)
    batch = client.post("/api/predict", json={"pixels": x.tolist()}).json()["predictions"]
    assert [p["class"] for p in batch] == want.argmax(axis=1).tolist()
    np.testing.assert_array_equal(np.array(batch[2]["preprocessed"]).ravel(), x[2])


@pytest.mark.parametrize("body, status, fragment", [
    ({"pixels": [0] * 783}, 422, "784 values"),
    ({"pixels": [[0] * 784, [0] * 10]}, 422, "equally long rows"),
    ({"pixels": [256] * 784}, 422, "0..255"),
    ({"pixels": [-1] * 784}, 422, "0..255"),
    ({"pixels": [0.5] * 784}, 422, "whole numbers"),
    ({"pixels": [True] * 784}, 422, "whole numbers"),
    ({"pixels": [True] + [0] * 783}, 422, "got true/false values"),
    ({"pixels": [[0] * 783 + [False], [0] * 784]}, 422, "got true/false values"),
    ({"pixels": [[]]}, 422, "shape [1, 0]"),
    ({"pixels": ["0"] * 784}, 422, "whole numbers"),
    ({"pixels": []}, 422, "non-empty"),
    ({"pixels": [[[0] * 784]]}, 422, "shape [1, 1, 784]"),
    ({"pixels": [0] * 784, "extra": 1}, 422, "one key 'pixels'"),
    ([0] * 784, 422, "one key 'pixels'"),
    ({"pixels": [[0] * 784] * 257}, 413, "1 to 256"),
])
def test_bad_json_is_a_4xx_naming_the_problem(client, body, status, fragment):
    assert_error(client.post("/api/predict", json=body), status, fragment)


def test_malformed_bodies_and_content_types(client):
    assert_error(client.post("/api/predict", content=b"{no", headers={"Content-Type": "application/json"}),
                 400, "not valid JSON")
    assert_error(client.post("/api/predict", content=b"[" * 100_000, headers={"Content-Type": "application/json"}),
                 400, "not valid JSON")
    assert_error(client.post("/api/predict", content=b"GIF89a nonsense", headers={"Content-Type": "image/png"}),
                 400, "not an image")
    assert_error(client.post("/api/predict", content=b"text", headers={"Content-Type": "text/plain"}), 415, "multipart")
    assert_error(client.post("/api/predict", content=b""), 415, "missing")
    assert_error(client.post("/api/predict", files={"photo": ("a.png", png(), "image/png")}), 422, "'file'")
    assert_error(client.post("/api/predict", files={"file": ("a.png", png(draw=False), "image/png")}), 422,
                 "no visible digit")
    assert_error(client.get("/api/nothing"), 404)


def test_a_405_says_which_methods_are_allowed(client):
    for method, path, allowed in (("GET", "/api/predict", "POST"), ("DELETE", "/api/health", "GET"),
                                  ("PUT", "/api/model", "GET")):
        response = client.request(method, path)
        assert_error(response, 405)
        assert response.headers.get("allow") == allowed, dict(response.headers)


MULTIPART = {"Content-Type": "multipart/form-data; boundary=xx"}


@pytest.mark.parametrize("request_args, status, fragments", [
    ({"content": b"abc", "headers": {"Content-Type": "multipart/form-data"}}, 400, ["Missing boundary"]),
    ({"content": b"--xx\r\nContent-Type: image/png\r\n\r\nabc\r\n--xx--\r\n", "headers": MULTIPART}, 400,
     ['Content-Disposition header field "name" must be provided']),
    ({"files": [("file", ("a.png", b"1", "image/png")), ("other", ("b.png", b"2", "image/png"))]}, 400,
     ["Too many files", "is 1"]),
    ({"content": b"", "headers": MULTIPART}, 422, ["'file' is missing", "no fields"]),
    ({"files": {"file": (None, "a digit")}}, 422, ["'file' is text, not a file"]),
    ({"files": {"photo": ("a.png", b"1", "image/png")}, "data": {"note": "x"}}, 422,
     ["'file' is missing", "'photo'", "'note'"]),
    ({"files": {"file": ("a.txt", b"hello", "text/plain")}}, 415, ["text/plain"]),
])
def test_every_multipart_failure_says_what_was_wrong(client, request_args, status, fragments):
    response = client.post("/api/predict", **request_args)
    assert_error(response, status, *fragments, "multipart field 'file'")
    assert "HTTPException" not in response.json()["error"]


def test_a_truncated_image_is_told_what_the_api_takes(client):
    half = png()[:len(png()) // 2]
    for response in (client.post("/api/predict", content=half, headers={"Content-Type": "image/png"}),
                     client.post("/api/predict", files={"file": ("a.png", half, "image/png")})):
        assert_error(response, 400, "truncated", "PNG or JPEG")
        assert not any(word in response.json()["error"] for word in (".npy", ".csv", "IDX")), response.json()


def test_the_limits_are_configurable_and_answer_413(model_file):
    small = TestClient(create_app(model_file, Limits(max_body_bytes=20_000, max_pixels=10_000, max_batch=2)))
    assert_error(small.post("/api/predict", content=b"x" * 20_001, headers={"Content-Type": "image/png"}),
                 413, "over 20,000 bytes")
    assert_error(small.post("/api/predict", content=png(size=(101, 100)), headers={"Content-Type": "image/png"}),
                 413, "101x100 pixels", "at most 10,000")
    assert small.post("/api/predict", content=png(size=(100, 100)), headers={"Content-Type": "image/png"}).is_success
    assert_error(small.post("/api/predict", json={"pixels": [[0] * 784] * 3}), 413, "1 to 2")
    assert small.post("/api/predict", json={"pixels": [[0] * 784] * 2}).is_success
    with pytest.raises(ConfigError, match="max-batch must be positive"):
        Limits(max_batch=0)


def test_a_body_that_arrives_too_slowly_is_a_408(model_file):
    import asyncio

    from barenet.apps.serve.bodylimit import BodyLimit

    sent = []

    async def app(scope, receive, send):  # never reached
        raise AssertionError("the app saw a request whose body never arrived")

    async def receive():
        await asyncio.sleep(10)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"content-length", b"10")]}
    asyncio.run(BodyLimit(app, max_bytes=100, timeout_s=0.05)(scope, receive, send))
    assert sent[0]["status"] == 408 and b"took over 0.05 s" in sent[1]["body"]


def test_the_page_and_its_files_are_served_without_a_cdn(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'src="/static/app.js"' in page.text and "http" not in page.text.replace('href="/openapi.json"', "")
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
        assert "://" not in response.text  # nothing fetched from elsewhere


def encoded(media: str) -> bytes:
    """png()'s drawing saved in the format of image media type `media`."""
    buffer = io.BytesIO()
    Image.open(io.BytesIO(png())).save(buffer, format=media.split("/")[1].upper())
    return buffer.getvalue()


def test_the_schema_says_which_uploads_are_taken_and_the_server_agrees(client):
    """Every raw image type the schema lists is read (200), a type it does not list is refused (415), and a
    multipart part is taken exactly when its Content-Type is one the schema's encoding lists."""
    body = client.get("/openapi.json").json()["paths"]["/api/predict"]["post"]["requestBody"]["content"]
    raw = [media for media in body if media.startswith("image/")]
    assert "image/png" in raw and "image/jpeg" in raw
    for media in raw:
        assert body[media]["schema"]["contentMediaType"] == media
        response = client.post("/api/predict", content=encoded(media), headers={"Content-Type": media})
        assert response.status_code == 200, (media, response.text)
    for media in ("image/svg+xml", "image/bmp", "application/octet-stream"):
        assert_error(client.post("/api/predict", content=png(), headers={"Content-Type": media}), 415, media)
    parts = [media.strip() for media in body["multipart/form-data"]["encoding"]["file"]["contentType"].split(",")]
    assert set(raw) < set(parts)
    for media in parts:
        response = client.post("/api/predict", files={"file": ("digit", png(), media)})
        assert response.status_code == 200, (media, response.text)
    for media in ("text/plain", "image/tiff", "application/pdf"):
        assert_error(client.post("/api/predict", files={"file": ("digit", png(), media)}), 415, media)


def test_the_openapi_schema_lists_the_api(client):
    schema = client.get("/openapi.json").json()
    assert {"/api/predict", "/api/model", "/api/health"} <= set(schema["paths"])
    body = schema["paths"]["/api/predict"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data", "image/png"} <= set(body)
    assert {"400", "413", "415", "422"} <= set(schema["paths"]["/api/predict"]["post"]["responses"])
    assert client.get("/docs").status_code == 200


def test_a_missing_extra_is_one_line_naming_it(monkeypatch, model_file):
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(ConfigError, match=r'pip install "barenet\[serve\]"'):
        create_app(model_file)


def test_serve_refuses_a_model_of_other_inputs(tmp_path):
    bn.MLP([100, 10]).save(tmp_path / "small.safetensors")
    with pytest.raises(ConfigError, match="28x28"):
        create_app(tmp_path / "small.safetensors")


def test_cli_serve_errors_are_one_line(tmp_path, model_file):
    assert_user_error(barenet("serve", tmp_path / "missing.safetensors"), "no model file")
    assert_user_error(barenet("serve", model_file, "--port", "70000"), "--port")
    assert_user_error(barenet("serve", model_file, "--max-batch", "0"), "max-batch must be positive")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert_user_error(barenet("serve", model_file, "--port", taken.getsockname()[1]), "cannot listen",
                          "--port")
