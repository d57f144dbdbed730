"""Labelled image grids (preview of a rendered set, worst predictions of a model)."""

from __future__ import annotations

import cv2
import numpy as np

from datasets.images import tile


def format_time(minutes: float) -> str:
    """Minutes since 12:00 -> `h:mm` on a 12-hour dial (0 shown as 12)."""
    whole = round(float(minutes)) % 720
    hour, minute = divmod(whole, 60)
    return f"{hour or 12}:{minute:02d}"


def captioned_grid(images: np.ndarray, captions: list[str], columns: int = 8, zoom: float = 1.0) -> np.ndarray:
    """Tile grey uint8 images with one caption on a white strip under each."""
    tiles = []
    for image, caption in zip(images, captions, strict=True):
        image = cv2.resize(image, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_AREA) if zoom != 1 else image
        strip = np.full((18, image.shape[1]), 255, np.uint8)
        cv2.putText(strip, caption, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, 0, 1, cv2.LINE_AA)
        tiles.append(np.vstack([image, strip]))
    return tile(np.stack(tiles), columns=columns)
