"""A saved clock model: `model.keras` plus `model.head.json` (the head that decodes its outputs and the input
preparation its images had, e.g. the dial localiser), so raw photographs go through the same path as training."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, get_type_hints

import cv2
import keras
import numpy as np

from datasets.atomic import make_folder, write_text
from datasets.formats import CorruptDataError
from datasets.regular_files import FileTooLargeError, NotRegularFileError, open_regular, read_regular_text
from trainers.clock import transforms  # noqa: F401  (registers the input-transform layers for loading)
from trainers.clock.heads import HOUR_DECODINGS, Head, make_head
from trainers.clock.localize import centre_dials
from trainers.clock.metric import DIAL_MINUTES
from trainers.config import ConfigError, check_value


@dataclass(frozen=True)
class InputPreparation:
    """What happens to a raw N x 150 x 150 photograph before the network (which resizes nothing itself)."""

    localize: bool = False  # centre and un-tilt the dial (trainers.clock.localize) before resizing
    # test-time augmentation: the network also reads each prepared image turned by these degrees (clockwise) and
    # its outputs are averaged (the time on a dial does not depend on how the dial is turned)
    test_turns: tuple[float, ...] = ()
    # and moved by this many of its pixels right, left, down and up (4 more readings averaged in): the pivot a
    # rectified steep tilt leaves off the centre is then near the centre of one of the views
    test_shift: float = 0.0

    def views(self, prepared: np.ndarray) -> list[np.ndarray]:
        """Prepared N x S x S x 1 images as the network reads them: plain, then turned by each of `test_turns`,
        then (`test_shift` > 0) moved by `test_shift` pixels right, left, down and up."""
        views = [prepared] + [turn_images(prepared, degrees) for degrees in self.test_turns]
        if self.test_shift > 0:
            shift = self.test_shift
            views += [shift_images(prepared, dx, dy) for dx, dy in ((shift, 0), (-shift, 0), (0, shift), (0, -shift))]
        return views


def head_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".head.json")


def save_clock_model(model: keras.Model, head: Head, path: Path,
                     preparation: InputPreparation | None = None) -> Path:
    path = Path(path)
    make_folder(path.parent)
    model.save(path)
    sidecar = {"head": head.name, "options": head.options, "input": asdict(preparation or InputPreparation())}
    write_text(head_path(path), json.dumps(sidecar, indent=2) + "\n")
    return path


def load_clock_model(path: Path) -> tuple[keras.Model, Head, InputPreparation]:
    """The network (without its training losses), its head and its input preparation; FileNotFoundError when absent,
    CorruptDataError (one line) when a file is there but is not a regular file, a Keras model or a valid sidecar.

    Every key of the sidecar is required: a sidecar without `input` would be read as plain resizing, silently wrong for
    a model trained on localised dials (round 7's 7-c).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such model file")
    if path.is_dir():  # its sidecar would be reported missing, of a model that is a folder
        raise CorruptDataError(f"{path}: is a directory; expected a regular file, a .keras model (e.g. "
                               f"{path}/model.keras)")
    if not head_path(path).exists():
        raise FileNotFoundError(f"{head_path(path)}: missing; it names the head that decodes {path.name}")
    head, preparation = read_sidecar(head_path(path))
    try:
        with open_regular(path, "rb") as handle:  # a FIFO or a directory is refused, not waited on
            size = os.fstat(handle.fileno()).st_size
            archive = path.suffix != ".keras" or zipfile.is_zipfile(handle)
    except NotRegularFileError as error:
        raise CorruptDataError(str(error)) from None
    if not archive:  # Keras would say "File not found" of a file that is there
        raise CorruptDataError(f"{path}: the file exists ({size} bytes) but is not a readable Keras model: not a "
                               "complete .keras zip archive (truncated, or another kind of file)")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many kinds for a file that is not a model (zip, h5, JSON, ...)
        first = str(error).splitlines()[0] if str(error) else ""
        raise CorruptDataError(f"{path}: the file exists ({size} bytes) but is not a readable Keras model "
                               f"({type(error).__name__}: {first})") from None
    _check_head_fits(model, head, path)
    return model, head, preparation


OUTPUT_LAYERS = ("hour", "minute", "clock")  # the names every head gives its output layers (trainers.clock.heads)


def output_signature(model: keras.Model) -> list[tuple[str, str, Any, Any]]:
    """The output layers' (name, kind, units, activation): what decides how the outputs are read."""
    signature = []
    for layer in model.layers:
        if layer.name in OUTPUT_LAYERS:
            config = layer.get_config()
            signature.append((layer.name, type(layer).__name__, config.get("units"), config.get("activation")))
    return sorted(signature)


def _check_head_fits(model: keras.Model, head: Head, path: Path) -> None:
    """A sidecar naming another head than the model was trained with (a hand-edited or swapped file) would decode
    its outputs as something else, silently: the head's output layers must be the model's."""
    features = keras.Input((4,))
    expected = output_signature(keras.Model(features, head.output(features)))
    found = output_signature(model)
    if found != expected:
        def shown(signature: list[tuple[str, str, Any, Any]]) -> str:
            return ", ".join(f"{name} {kind}({units}, {activation})" for name, kind, units, activation in signature) \
                or "no layer named hour, minute or clock"

        raise CorruptDataError(f"{head_path(path)}: head {head.name!r} reads output layers {shown(expected)}, but "
                               f"{path.name} has {shown(found)}: the sidecar is not this model's")


# The one schema of a sidecar's head options: each value's type and range (trainers/bounds.py, as a clock config's
# own values), so a hand-edited sidecar cannot hand a head a label_sigma of -1e308 or 10**9 classes.
HEAD_OPTIONS = {"classes": int, "hour_weight": float, "minute_weight": float, "label_sigma": float,
                "hour_decoding": Literal[HOUR_DECODINGS]}


SIDECAR_KEYS = ("head", "options", "input")  # the whole schema is closed: an unknown key at any level is refused
MAX_SIDECAR_BYTES = 2**20  # a sidecar is a few hundred bytes
MAX_TEST_TURNS = 64  # test-time turns: each is one more pass over every image (the default study uses a few)


def read_sidecar(sidecar: Path) -> tuple[Head, InputPreparation]:
    """The head and input preparation a sidecar names, every key known and every value checked; CorruptDataError
    naming the key."""
    try:
        description = json.loads(read_regular_text(sidecar, max_bytes=MAX_SIDECAR_BYTES),
                                 object_pairs_hook=_unique_keys)
    except (NotRegularFileError, FileTooLargeError) as error:
        raise CorruptDataError(str(error)) from None
    except (ValueError, UnicodeDecodeError, RecursionError) as error:  # RecursionError: nested past the parser's depth
        raise CorruptDataError(f"{sidecar}: not valid JSON ({type(error).__name__}: {str(error)[:120]})") from None
    options, raw = (description.get(key, {}) if isinstance(description, dict) else None for key in ("options", "input"))
    if not (isinstance(description, dict) and isinstance(description.get("head"), str) and isinstance(options, dict)
            and isinstance(raw, dict)):
        raise CorruptDataError(f"{sidecar}: expected {{\"head\": NAME, \"options\": {{...}}, \"input\": {{...}}}}")
    _refuse_unknown(sidecar, "", description, SIDECAR_KEYS)
    missing = [key for key in SIDECAR_KEYS if key not in description]
    if missing:
        raise CorruptDataError(f"{sidecar}: {missing[0]}: missing; a sidecar names {', '.join(SIDECAR_KEYS)} (one "
                               "written before `input` existed: add \"input\": {} if its model was trained on plainly "
                               "resized images)")
    _refuse_unknown(sidecar, "options.", options, HEAD_OPTIONS)
    try:
        options = {key: check_value(key, value, HEAD_OPTIONS[key]) for key, value in options.items()}
    except ConfigError as error:
        raise CorruptDataError(f"{sidecar}: options.{error}") from None
    try:
        head = make_head(description["head"], **options)
    except (ValueError, TypeError) as error:
        raise CorruptDataError(f"{sidecar}: head: {error}") from None
    fields = get_type_hints(InputPreparation)
    _refuse_unknown(sidecar, "input.", raw, fields)
    turns = raw.get("test_turns", ())
    if not isinstance(turns, (list, tuple)) or len(turns) > MAX_TEST_TURNS or not all(
            isinstance(turn, (int, float)) and not isinstance(turn, bool) and -360 <= turn <= 360 for turn in turns):
        raise CorruptDataError(f"{sidecar}: input.test_turns: expected a list of at most {MAX_TEST_TURNS} degrees in "
                               "[-360, 360]")
    try:
        checked = {key: check_value(key, value, fields[key]) for key, value in raw.items() if key != "test_turns"}
    except ConfigError as error:
        raise CorruptDataError(f"{sidecar}: input.{error}") from None
    return head, InputPreparation(**checked, test_turns=tuple(float(turn) for turn in turns))


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: with a key given twice the last would win silently."""
    keys = [key for key, _ in pairs]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise ValueError(f"key {twice[0]!r} given twice")
    return dict(pairs)


def _refuse_unknown(sidecar: Path, where: str, entries: dict, known: Iterable[str]) -> None:
    """One CorruptDataError line naming the first key of `entries` (at `where`) that the schema does not know."""
    unknown = sorted(set(entries) - set(known))
    if unknown:
        key = unknown[0] if unknown[0].isprintable() and unknown[0].strip() == unknown[0] != "" else repr(unknown[0])
        raise CorruptDataError(f"{sidecar}: {where}{key}: unknown key; expected {', '.join(known)}")


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """N x H x W uint8 -> N x size x size x 1 uint8 (area interpolation when shrinking)."""
    if images.shape[1] != size or images.shape[2] != size:
        images = np.stack([cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA) for image in images])
    return images[..., None]


def _warp_each(images: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """N x S x S x 1 uint8 images through one 2 x 3 affine matrix (bilinear; the border is repeated)."""
    size = images.shape[1]
    return np.stack([cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE) for image in images[..., 0]])[..., None]


def turn_images(images: np.ndarray, degrees: float) -> np.ndarray:
    """N x S x S x 1 uint8 images turned clockwise by `degrees` about their centre (the inscribed circle stays)."""
    centre = (images.shape[1] - 1) / 2
    return _warp_each(images, cv2.getRotationMatrix2D((centre, centre), -degrees, 1.0))


def shift_images(images: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """N x S x S x 1 uint8 images moved by (dx, dy) pixels (right, down); the border is repeated."""
    return _warp_each(images, np.float32([[1, 0, dx], [0, 1, dy]]))


def view_outputs(model: keras.Model, prepared: np.ndarray, preparation: InputPreparation | None = None,
                 batch_size: int = 256) -> list[np.ndarray]:
    """The network's outputs (float64) for each test-time view of prepared images (`InputPreparation.views`; the
    plain view only when `preparation` is None)."""
    views = (preparation or InputPreparation()).views(prepared)
    return [np.asarray(model.predict(view, batch_size=batch_size, verbose=0), np.float64) for view in views]


def read_views(head: Head, outputs: list[np.ndarray]) -> np.ndarray:
    """Minutes from one or more views' outputs: the averaged outputs decoded where the head's outputs average,
    else the circular mean of each view's reading on the 12-hour dial."""
    if head.averages_outputs or len(outputs) == 1:
        return head.decode(np.mean(outputs, axis=0))
    angles = 2 * np.pi * np.stack([head.decode(output) for output in outputs]) / DIAL_MINUTES
    mean = np.arctan2(np.sin(angles).mean(axis=0), np.cos(angles).mean(axis=0))
    return np.mod(mean / (2 * np.pi) * DIAL_MINUTES, DIAL_MINUTES)


def prepare_images(images: np.ndarray, size: int, preparation: InputPreparation | None = None,
                   workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Raw N x H x W uint8 photographs -> the network's N x size x size x 1 input, and N booleans: dial found
    (all True when the localiser is off). Training and `predict` both come through here."""
    preparation = preparation or InputPreparation()
    found = np.ones(len(images), bool)
    if preparation.localize:
        images, found = centre_dials(np.asarray(images), workers)
    return resize_images(images, size), found


def read_clocks(model: keras.Model, head: Head, images: np.ndarray, preparation: InputPreparation | None = None,
                batch_size: int = 256, workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Minutes since 12:00 for raw N x H x W uint8 photographs, prepared as the model was trained, and N booleans:
    was the dial found (False: the plain photograph was read)."""
    preparation = preparation or InputPreparation()
    prepared, found = prepare_images(images, int(model.input_shape[1]), preparation, workers)
    return read_views(head, view_outputs(model, prepared, preparation, batch_size)), found


def predict_clock_minutes(model: keras.Model, head: Head, images: np.ndarray,
                          preparation: InputPreparation | None = None, batch_size: int = 256) -> np.ndarray:
    """Minutes since 12:00 for raw N x H x W uint8 photographs, prepared as the model was trained."""
    return read_clocks(model, head, images, preparation, batch_size)[0]
