"""Olivetti faces (AT&T ORL): 40 subjects x 10 grey 64x64 images, from the mirror's `olivetti/olivettifaces.mat`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datasets import settings
from datasets.registry import Arrays, DatasetInfo, Source, register_dataset

SUBJECTS = 40
IMAGES_PER_SUBJECT = 10
TEST_IMAGE_INDEX = 9  # each subject's last image is held out as the test split (40 test, 360 train)
SUBJECT_NAMES = tuple(f"subject_{subject:02d}" for subject in range(SUBJECTS))


def read_olivetti_mat(path: Path) -> Arrays:
    """(x_train, y_train, x_test, y_test): upright uint8 faces NHWC and subject ids, split by image index."""
    if not path.exists():
        raise FileNotFoundError(str(path))
    from scipy.io import loadmat

    faces = loadmat(str(path))["faces"]
    expected = (64 * 64, SUBJECTS * IMAGES_PER_SUBJECT)
    if faces.shape != expected:
        raise ValueError(f"expected `faces` of shape {expected}, got {faces.shape}")
    images = np.ascontiguousarray(faces.T.reshape(-1, 64, 64).transpose(0, 2, 1)).astype(np.uint8)[..., None]
    subjects = np.repeat(np.arange(SUBJECTS, dtype=np.int64), IMAGES_PER_SUBJECT)  # stored in subject order
    is_test = np.tile(np.arange(IMAGES_PER_SUBJECT) == TEST_IMAGE_INDEX, SUBJECTS)
    return images[~is_test], subjects[~is_test], images[is_test], subjects[is_test]


def olivetti_sources() -> list[Source]:
    mirror = settings.mirror_dir()

    def read_mirror() -> Arrays:
        if mirror is None:
            raise FileNotFoundError("SWEEPLAB_DATA_DIR is not set")
        return read_olivetti_mat(mirror / "olivetti" / "olivettifaces.mat")

    return [Source("mirror", str(mirror / "olivetti" / "olivettifaces.mat") if mirror else "$SWEEPLAB_DATA_DIR",
                   read_mirror)]


register_dataset(DatasetInfo(
    "olivetti", SUBJECT_NAMES, olivetti_sources,
    "point SWEEPLAB_DATA_DIR at a mirror directory holding olivetti/olivettifaces.mat (MATLAB v5, key `faces`, "
    "4096 x 400 uint8; e.g. from GitHub sjgershm/DBM)"))
