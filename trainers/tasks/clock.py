"""Tell the time from a photograph of an analog clock; every label representation is one `head` value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args, get_type_hints

from trainers.choices import Activation
from trainers.clock.metric import CLASS_COUNTS
from trainers.config import ConfigError
from trainers.optimizer_config import OptimizerConfig
from trainers.registry import Task, lazy, register_task

OBJECTIVE = "val/cse_minutes"


@dataclass
class ClockConfig(OptimizerConfig):
    """Every knob of the clock studies."""

    # data
    n_images: int = 18000  # rendered clocks (25 per minute of the 720 at 18000); ignored with data_dir
    data_dir: str = ""  # a directory with images.npy + labels.npy (real photographs); empty = render
    render_seed: int = 0
    # the renderer's variation; diverse: more dial designs; randomised: diverse plus random glyphs as hour marks;
    # default+wide: half the clocks of each (datasets.clocks.variation.MIXTURES); diverse+wide: the `diverse` dial
    # designs in the first half; diverse+wide_diverse: in both halves; diverse_sparse(+wide): diverse plus dials
    # numbered at a random subset of the hours, never at 12; diverse_sparse_bare(+wide): the same without minute ticks;
    # diverse_sparse_bare3(+wide): with three times their share (measured, not adopted: docs/clock.md)
    variation: Literal["default", "mild", "wide", "none", "diverse", "randomised", "diverse_sparse",
                       "diverse_sparse_bare", "diverse_sparse_bare3", "wide_diverse", "default+wide", "diverse+wide",
                       "diverse_sparse+wide", "diverse_sparse_bare+wide", "diverse_sparse_bare3+wide",
                       "diverse+wide_diverse"] = "default"
    render_workers: int = 1  # processes rendering (and localising) an uncached set
    image_size: int = 150  # side the images are resized to (75 trains ~4x faster)
    test_fraction: float = 0.2  # held-out test split, seeded
    validation_fraction: float = 0.1  # carved from the training part
    subset: int = 0  # training examples kept (0 = all)
    seed: int = 0  # split, weights and shuffling
    # input transforms (the localiser runs before the network and is recorded in the saved model's sidecar; the
    # layers run inside the model; so `predict` and saved models apply them too)
    localize: bool = False  # find the dial's rim, centre it and undo the tilt before resizing (trainers.clock.localize)
    polar: bool = False  # resample around the image centre: rows = angle from 12, columns = radius
    polar_angles: int = 0  # rows of the polar image (0 = image_size); more than image_size / 3 keeps the rim's detail
    polar_radii: int = 0  # columns of the polar image (0 = image_size)
    polar_wrap: int = 0  # rows repeated above and below (the angles either side of 12 o'clock seen whole)
    coord_channels: bool = False  # append x, y, radius maps (CoordConv) after the optional polar warp
    # label representation
    head: Literal["regression", "regression_circular", "classification", "multi_head", "hands", "periodic",
                  "two_circle"] = "periodic"
    classes: int = 72  # classification only; one of CLASS_COUNTS
    hour_weight: float = 1.0  # multi_head only: weight of the hour cross-entropy
    minute_weight: float = 1.0  # multi_head, hands: weight of the minute loss
    label_sigma: float = 0.0  # hands: soft targets, a circular Gaussian this many minutes wide around each hand
    hour_decoding: Literal["argmax", "given_minute", "auto"] = "auto"  # multi_head, hands: the hour read alone or
    # from the hour hand's probability where the minute hand puts it (removes hour slips once minutes are read);
    # auto: trains with given_minute, then keeps whichever reads the validation set better (saved with the model)
    # backbone
    conv_blocks: int = 4  # each block: convs, max pool (halves the side)
    convs_per_block: int = 1
    conv_filters: int = 32  # filters of the first block
    filter_growth: float = 2.0  # filter multiplier per block
    kernel_size: int = 3
    batch_norm: bool = True
    activation: Activation = "relu"
    conv_dropout: float = 0.0
    pooling: Literal["global_avg", "global_max", "flatten"] = "flatten"
    dense_units: int = 128  # 0 = the head sits on the pooled features
    dense_dropout: float = 0.2
    # augmentation (0 = off)
    augment_shift: float = 0.0  # fraction of the side
    augment_rotation_degrees: float = 0.0  # rotates the photograph (interpolated; any input)
    augment_turn_degrees: float = 0.0  # polar only: turns the dial by a random +-this (a cyclic shift of the rows)
    augment_brightness: float = 0.0
    augment_contrast: float = 0.0
    augment_invert: float = 0.0  # probability that a training photograph is shown in negative (a dark dial's polarity)
    augment_erase: float = 0.0  # probability that a patch (2-20% of the image) of a training photograph is noise: a
    # mark hidden (the 12 under the minute hand), so the reading cannot hang on one glyph
    augment_noise: float = 0.0  # sensor noise: Gaussian, this standard deviation on the 0-1 grey scale
    augment_blur: float = 0.0  # defocus: Gaussian blur of a random sigma up to this many pixels
    augment_tilt_degrees: float = 0.0  # localised dials shown as if tilted up to this much more (RandomDialTilt)
    augment_perspective: float = 0.0  # residual tilt: about half the images get corners moved by up to +-this/2
    # test-time augmentation: the saved model (and the run's test score) averages the network over the dial also
    # turned by +-k * test_turn_degrees, k = 1..test_turns (trainers.clock.predict.InputPreparation.test_turns)
    test_turns: int = 0
    test_turn_degrees: float = 20.0
    test_shift_pixels: float = 0.0  # and moved this many input pixels four ways (InputPreparation.test_shift)
    # optimisation (optimizer, learning rate and schedule: OptimizerConfig)
    batch_size: int = 64
    epochs: int = 20
    # a training-time budget (0 = none): a cosine schedule is planned from measured step times to end annealed
    # within it (fewer steps on a slower machine); other schedules stop at the step that passes it
    train_minutes: float = 0.0
    budget_clock: Literal["wall", "process"] = "wall"  # process: CPU time of all threads (fair on a shared machine)
    patience: int = 0  # early stopping on val/cse_minutes (0 = off); the best epoch's weights are kept anyway
    save_model: bool = True  # model.keras (+ model.head.json) in the run directory
    worst_count: int = 16  # worst test predictions drawn

    @property
    def turns(self) -> tuple[float, ...]:
        """The angles of the test-time turns: -d, d, -2d, 2d, ... (d = test_turn_degrees)."""
        return tuple(sign * step * self.test_turn_degrees for step in range(1, self.test_turns + 1) for sign in (-1, 1))

    def _network_side(self) -> int:
        """The smaller side of what the convolutions see (the polar image when `polar`)."""
        if not self.polar:
            return self.image_size
        return min((self.polar_angles or self.image_size) + 2 * self.polar_wrap, self.polar_radii or self.image_size)

    def validate(self) -> None:
        checks = {
            "n_images": self.n_images >= 20 or bool(self.data_dir),
            "image_size": 16 <= self.image_size <= 512,
            "test_fraction": 0 < self.test_fraction < 1,
            "validation_fraction": 0 < self.validation_fraction < 1,
            "subset": self.subset >= 0,
            "classes": self.classes in CLASS_COUNTS,
            "conv_blocks": self.conv_blocks >= 0 and self._network_side() >> self.conv_blocks >= 1,
            "polar_wrap": self.polar_wrap <= (self.polar_angles or self.image_size) // 2,
            "convs_per_block": self.convs_per_block >= 1,
            "conv_filters": self.conv_filters >= 1,
            "kernel_size": self.kernel_size >= 1,
            "dense_units": self.dense_units >= 0,
            "learning_rate": self.learning_rate > 0,
            "batch_size": self.batch_size >= 1,
            "epochs": self.epochs >= 1,
            "train_minutes": self.train_minutes >= 0,
            "warmup_epochs": self.warmup_epochs >= 0,  # longer than the run: the schedule warms up to its last step
            "hour_weight": self.hour_weight >= 0,
            "minute_weight": self.minute_weight >= 0,
            "label_sigma": 0 <= self.label_sigma <= 30,
        }
        for name in ("conv_dropout", "dense_dropout", "augment_shift", "augment_brightness", "augment_contrast"):
            checks[name] = 0.0 <= getattr(self, name) < 1.0
        checks["augment_invert"] = 0.0 <= self.augment_invert <= 1.0
        checks["augment_erase"] = 0.0 <= self.augment_erase <= 1.0
        checks["augment_noise"] = 0.0 <= self.augment_noise <= 0.5
        checks["augment_blur"] = 0.0 <= self.augment_blur <= 5.0
        checks["augment_tilt_degrees"] = 0.0 <= self.augment_tilt_degrees <= 70.0
        checks["augment_perspective"] = 0.0 <= self.augment_perspective <= 0.5
        checks["augment_rotation_degrees"] = 0.0 <= self.augment_rotation_degrees <= 180.0
        checks["test_turns"] = 0 <= self.test_turns <= 16
        checks["test_turn_degrees"] = 0.0 < self.test_turn_degrees <= 180.0
        checks["test_shift_pixels"] = 0.0 <= self.test_shift_pixels <= 16.0
        checks["augment_turn_degrees"] = 0.0 <= self.augment_turn_degrees <= 180.0 and (
            self.polar or self.augment_turn_degrees == 0.0)
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            allowed = f" (one of {list(CLASS_COUNTS)})" if bad[0] == "classes" else ""
            raise ConfigError(f"{bad[0]}: value {getattr(self, bad[0])!r} is out of range{allowed}")


register_task(Task(
    name="clock",
    config_type=ClockConfig,
    train=lazy("trainers.clock.training:train"),
    objective=OBJECTIVE,
    direction="minimize",
    description="tell the time from clock photographs; heads: "
                + ", ".join(get_args(get_type_hints(ClockConfig)["head"])),
    metrics=("test/cse_minutes",),
    directions={"val/loss": "minimize"},
    smoke={"n_images": 200, "image_size": 48, "epochs": 1, "conv_blocks": 2, "conv_filters": 8, "dense_units": 16,
           "batch_size": 32},
))
