"""The REST API's request and response shapes (pydantic), which FastAPI turns into /openapi.json."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Pixel = Annotated[int, Field(ge=0, le=255)]


def pixels_request(features: int, max_batch: int) -> type[BaseModel]:
    """The JSON body of POST /api/predict: one image (`features` gray levels) or a batch of them."""
    Row = Annotated[list[Pixel], Field(min_length=features, max_length=features)]

    class PixelsRequest(BaseModel):
        """MNIST-style pixels: gray levels 0-255, white digit on black, 28x28 row by row."""

        model_config = ConfigDict(extra="forbid")
        pixels: Row | Annotated[list[Row], Field(min_length=1, max_length=max_batch)]

    return PixelsRequest


class Prediction(BaseModel):
    """One image's prediction."""

    model_config = ConfigDict(populate_by_name=True)
    class_index: int = Field(alias="class", description="the most probable class (an index into classes)")
    label: str = Field(description="that class's name")
    probabilities: list[float] = Field(description="one per class, in class order")
    preprocessed: list[list[Annotated[int, Field(ge=0, le=255)]]] = Field(
        description="the 28x28 image the network saw (uint8, white digit on black)")


class BatchPrediction(BaseModel):
    predictions: list[Prediction]


class ModelInfo(BaseModel):
    name: str
    file: str
    dataset: str | None
    layers: list[str]
    sizes: list[int]
    output: str
    parameters: int
    test_accuracy: float | None
    classes: list[str]
    input_scale: str
    barenet_version: str


class Health(BaseModel):
    status: str
    model: str


class ErrorBody(BaseModel):
    """Every error: one line naming the problem."""

    error: str
