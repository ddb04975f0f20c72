"""`create_app(model_path)`: the FastAPI application of `barenet serve` (pip install "barenet[serve]").

    GET  /               the drawing page (static/: HTML, JS, CSS; no CDN, works offline)
    POST /api/predict    an image (multipart field `file`, or a raw image/* body), or JSON pixels -> prediction
    GET  /api/model      the model's name, layers, accuracy, training data
    GET  /api/health     {"status": "ok", "model": ...}
    GET  /openapi.json, /docs

Every error is JSON `{"error": "one line"}` with a 4xx status for anything the client sent.
The model is loaded once, when the app is created. (No `from __future__ import annotations` here:
FastAPI reads the routes' annotations at runtime, and `Request` is imported inside a function.)
"""

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ...errors import BarenetError, ConfigError, DataError
from .bodylimit import BodyLimit
from .limits import LimitError, Limits
from .pixels import parse_json, pixel_rows
from .predictor import IMAGE_SIDE, Predictor

STATIC = Path(__file__).parent / "static"
INSTALL_HINT = 'barenet serve needs FastAPI and uvicorn: pip install "barenet[serve]"'
# What POST /api/predict takes as an image, as /openapi.json says: a raw body of one of IMAGE_TYPES, or a multipart
# field `file` declared as one of them or as application/octet-stream (curl -F's type for unknown file endings).
# The bytes decide how an image is read (Pillow, by magic bytes); bytes that are no image get 400.
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")  # the web's image formats, all read by Pillow
UPLOAD_TYPES = (*IMAGE_TYPES, "application/octet-stream")
UPLOAD_HINT = "send one PNG or JPEG image as the multipart field 'file', or as the raw body with Content-Type image/png"


def require_serve_extra() -> None:
    """ConfigError naming the extra when FastAPI, uvicorn or python-multipart is missing."""
    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None


def create_app(model_path, limits: Limits | None = None):
    """The FastAPI app serving the model at `model_path` (loaded now, once) under `limits`."""
    require_serve_extra()
    from fastapi import FastAPI
    from fastapi.staticfiles import StaticFiles

    limits = limits or Limits()
    predictor = Predictor(model_path)
    app = FastAPI(title="barenet", version=predictor.info["barenet_version"],
                  description=f"Digit classification with the barenet model {predictor.info['name']!r}.")
    app.state.predictor, app.state.limits = predictor, limits
    _add_error_handlers(app)
    _add_api_routes(app, predictor, limits)
    _add_page_routes(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes, timeout_s=limits.read_timeout_s)
    return app


def _add_api_routes(app, predictor: Predictor, limits: Limits) -> None:
    from fastapi import Request

    from .schemas import BatchPrediction, ErrorBody, Health, ModelInfo, Prediction, pixels_request

    request_model = pixels_request(IMAGE_SIDE * IMAGE_SIDE, limits.max_batch)
    errors = {status: {"model": ErrorBody, "description": text} for status, text in (
        (400, "not an image, or malformed JSON"), (408, "the body arrived too slowly"),
        (413, "over a limit: body size, image pixels or batch size"), (415, "an unsupported Content-Type"),
        (422, "JSON of the wrong shape, or an image without a visible digit"))}

    @app.get("/api/health", response_model=Health, tags=["service"])
    def health() -> dict:
        """Whether the server is up, and the model it serves."""
        return {"status": "ok", "model": predictor.info["name"]}

    @app.get("/api/model", response_model=ModelInfo, tags=["service"])
    def model() -> dict:
        """The model's name, layers, sizes, test accuracy, dataset and class names, from its file."""
        return predictor.info

    @app.post("/api/predict", response_model=Prediction | BatchPrediction, responses=errors, tags=["predict"],
              openapi_extra={"requestBody": _request_body(request_model)}, response_model_by_alias=True)
    async def predict(request: Request) -> dict:
        """Classify an image (multipart field `file`, or a raw image body), or JSON `{"pixels": [...]}` holding
        784 gray levels (0-255, white digit on black, row by row) or a list of such rows."""
        from starlette.concurrency import run_in_threadpool

        payload = await _read_input(request, limits)
        if isinstance(payload, bytes):
            return await run_in_threadpool(predictor.predict_image, payload, limits.max_pixels)
        rows, batch = payload
        results = await run_in_threadpool(predictor.predict_pixels, rows)
        return {"predictions": results} if batch else results[0]


def _request_body(request_model) -> dict:
    """POST /api/predict's body in OpenAPI: JSON pixels, a multipart upload, or a raw image; each image media
    type the server takes, and for the upload the part types it takes (others get 415; bytes that are no image 400)."""
    image = {"type": "string", "format": "binary",
             "description": "an image file (PNG, JPEG, GIF or WebP bytes); other bytes get 400"}
    upload = {"type": "object", "properties": {"file": image}, "required": ["file"]}
    return {"required": True, "content": {
        "application/json": {"schema": request_model.model_json_schema()},
        "multipart/form-data": {"schema": upload, "encoding": {"file": {"contentType": ", ".join(UPLOAD_TYPES)}}},
        **{media: {"schema": {**image, "contentMediaType": media}} for media in IMAGE_TYPES}}}


async def _read_input(request, limits: Limits) -> bytes | tuple[np.ndarray, bool]:
    """An encoded image's bytes, or (uint8 rows (N, 784), whether a batch was sent); 4xx errors on bad input."""
    from fastapi import HTTPException

    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json":
        return pixel_rows(parse_json(await request.body()), IMAGE_SIDE * IMAGE_SIDE, limits.max_batch)
    if media == "multipart/form-data":
        return await _uploaded_file(request, limits.max_body_bytes)
    if media in IMAGE_TYPES:
        return await request.body()
    raise HTTPException(415, f"Content-Type {media or 'missing'!r} is not supported: send an image as multipart "
                             f"field 'file' or as a body of type {', '.join(IMAGE_TYPES)}, or JSON "
                             f"{{\"pixels\": [...]}}")


async def _uploaded_file(request, max_part_bytes: int) -> bytes:
    """The bytes of multipart field `file`, an image (its part's Content-Type one of UPLOAD_TYPES, or none)."""
    from starlette.datastructures import UploadFile
    from starlette.exceptions import HTTPException

    try:
        form = await request.form(max_files=1, max_fields=8, max_part_size=max_part_bytes)
    except HTTPException as exc:  # starlette's own words for a malformed form: "Missing boundary in multipart."
        raise HTTPException(400, f"the multipart body could not be read: {str(exc.detail).rstrip('.')}: "
                                 f"{UPLOAD_HINT}") from None
    except Exception as exc:  # python-multipart's parse errors share no base class
        raise HTTPException(400, f"the multipart body could not be read ({type(exc).__name__}: "
                                 f"{_one_line(exc)}): {UPLOAD_HINT}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        fields = ", ".join(repr(name) for name in form) or "no fields"
        problem = "is text, not a file" if "file" in form else f"is missing (the form holds {fields})"
        raise HTTPException(422, f"the multipart field 'file' {problem}: {UPLOAD_HINT}")
    media = (upload.content_type or "").split(";")[0].strip().lower()
    if media and media not in UPLOAD_TYPES:
        raise HTTPException(415, f"the uploaded file is {media}: {UPLOAD_HINT}")
    return await upload.read()


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200] or "no detail"


def _add_error_handlers(app) -> None:
    """Every error as {"error": one line}: barenet's own errors by kind, HTTP errors, validation errors."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    def respond(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    @app.exception_handler(BarenetError)
    async def barenet_error(request, exc: BarenetError):
        return respond(413 if isinstance(exc, LimitError) else 400 if isinstance(exc, DataError) else 422, str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):  # its headers kept: a 405's Allow
        return respond(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc: RequestValidationError):
        return respond(422, "; ".join(str(error.get("msg")) for error in exc.errors()[:3]))


def _add_page_routes(app) -> None:
    from fastapi.responses import HTMLResponse

    page = (STATIC / "index.html").read_text(encoding="utf-8")
    headers = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:",
               "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page, headers=headers)
