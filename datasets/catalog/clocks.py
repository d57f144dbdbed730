"""Rendered analog clocks as a registry dataset (labels: the hour), e.g. for the generative models.

The clock task itself reads `images.npy`/`labels.npy` (rendered or real) through `datasets.clocks`; this entry is the
fixed, cached rendering other tasks use: 3600 clocks (5 per minute of the 720), default variation, 10% test.
"""

from __future__ import annotations

import numpy as np

from datasets.registry import Arrays, DatasetInfo, Source, register_dataset

CLOCK_IMAGES = 3600
HOURS = tuple(str(hour) for hour in range(12))


def _render() -> Arrays:
    from datasets.clocks import rendered_clocks

    images, labels = rendered_clocks(CLOCK_IMAGES, seed=0)  # cached by the renderer after the first call
    images = images[..., None] if images.ndim == 3 else images
    order = np.random.default_rng(0).permutation(len(images))
    test, train = order[: len(order) // 10], order[len(order) // 10 :]
    hours = labels[:, 0].astype(np.int64)
    return images[train], hours[train], images[test], hours[test]


register_dataset(DatasetInfo(
    "clocks", HOURS,
    lambda: [Source("rendered", f"datasets.clocks.rendered_clocks({CLOCK_IMAGES}, seed=0)", _render)],
    "the renderer needs OpenCV (opencv-python-headless) and a writable $SWEEPLAB_CACHE_DIR",
))
