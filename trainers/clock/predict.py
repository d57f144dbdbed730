"""A saved clock model: `model.keras` plus `model.head.json` (which head decodes its outputs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import keras
import numpy as np

from trainers.clock import transforms  # noqa: F401  (registers the input-transform layers for loading)
from trainers.clock.heads import Head, make_head


def head_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".head.json")


def save_clock_model(model: keras.Model, head: Head, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    head_path(path).write_text(json.dumps({"head": head.name, "options": head.options}, indent=2) + "\n")
    return path


def load_clock_model(path: Path) -> tuple[keras.Model, Head]:
    """Load the network (without its training losses) and rebuild its head; FileNotFoundError when absent."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    if not head_path(path).is_file():
        raise FileNotFoundError(f"{head_path(path)}: missing; it names the head that decodes {path.name}")
    description: dict[str, Any] = json.loads(head_path(path).read_text())
    model = keras.models.load_model(path, compile=False)
    return model, make_head(description["head"], **description.get("options", {}))


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """N x H x W uint8 -> N x size x size x 1 uint8 (area interpolation when shrinking)."""
    if images.shape[1] != size or images.shape[2] != size:
        images = np.stack([cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA) for image in images])
    return images[..., None]


def predict_clock_minutes(model: keras.Model, head: Head, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Minutes since 12:00 for N x H x W uint8 images, resized to the model's input."""
    size = int(model.input_shape[1])
    outputs = model.predict(resize_images(images, size), batch_size=batch_size, verbose=0)
    return head.decode(np.asarray(outputs, np.float64))
