"""Classifier builders: reference parameter counts, input shapes, every knob reaching the model."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from trainers import get_task, resolve_config
from trainers.config import ConfigError
from trainers.models.classifiers import MODELS, build_classifier, dense_widths
from trainers.optimizers import OPTIMIZERS, build_optimizer


def config(**values):
    return resolve_config(get_task("classify"), values)


@pytest.mark.parametrize(("model", "expected"), [
    ("geron_mlp", 266_610),  # 784*300+300 + 300*100+100 + 100*10+10
    ("geron_cnn", 1_413_834),  # the reference count on 28x28x1
    ("keras_mlp", 669_706),  # the Keras example mnist_mlp
    ("keras_cnn", 1_199_882),  # the Keras example mnist_cnn
])
def test_reference_parameter_counts_on_28x28x1(model, expected):
    assert build_classifier(config(model=model), (28, 28, 1), 10).count_params() == expected


@pytest.mark.parametrize("model", sorted(MODELS))
def test_input_shape_follows_the_dataset(model):
    network = build_classifier(config(model=model), (32, 32, 3), 10)
    assert network.input_shape == (None, 32, 32, 3)
    out = network(np.zeros((2, 32, 32, 3), dtype="float32"))
    assert out.shape == (2, 10)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.sum(out, axis=1)), 1.0, rtol=1e-5)


def test_geron_cnn_layer_sequence():
    network = build_classifier(config(model="geron_cnn"), (28, 28, 1), 10)
    convs = [layer for layer in network.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [(layer.filters, layer.kernel_size) for layer in convs] == [
        (64, (7, 7)), (128, (3, 3)), (128, (3, 3)), (256, (3, 3)), (256, (3, 3))]
    dense = [layer.units for layer in network.layers if isinstance(layer, keras.layers.Dense)]
    assert dense == [128, 64, 10]
    assert [layer.rate for layer in network.layers if isinstance(layer, keras.layers.Dropout)] == [0.5, 0.5]


def test_every_knob_changes_the_model():
    base = config(model="geron_cnn")
    assert dense_widths(config(model="geron_mlp")) == [300, 100]
    assert dense_widths(config(model="geron_mlp", dense_layers=3, dense_units=400, dense_shrink=0.5)) == [400, 200, 100]
    small = build_classifier(config(model="geron_cnn", conv_filters=16, kernel_size=5, strides=2, pooling="none",
                                    conv_blocks=1, convs_per_block=1, batch_norm=True), (28, 28, 1), 10)
    assert small.count_params() != build_classifier(base, (28, 28, 1), 10).count_params()
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in small.layers)
    assert not any(isinstance(layer, keras.layers.MaxPooling2D) for layer in small.layers)
    regularised = build_classifier(config(model="geron_mlp", kernel_l2=1e-3, bias_l1=1e-4), (28, 28, 1), 10)
    regularised(np.zeros((1, 28, 28, 1), dtype="float32"))
    assert len(regularised.losses) == 6  # kernel + bias penalty on each of the three dense layers
    he = build_classifier(config(model="geron_mlp", kernel_initializer="he_normal", activation="selu"), (28, 28, 1), 10)
    activations = {layer.activation.__name__ for layer in he.layers if isinstance(layer, keras.layers.Activation)}
    assert activations == {"selu"}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_builds_with_its_knobs(name):
    optimizer = build_optimizer(config(optimizer=name, learning_rate=0.05, momentum=0.9, nesterov=True, rho=0.8))
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(0.05)
    if name == "sgd":
        assert optimizer.momentum == 0.9 and optimizer.nesterov
    if name in {"rmsprop", "adadelta"}:
        assert optimizer.rho == 0.8


def test_a_conv_stack_that_shrinks_to_nothing_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="shrinks the 28x28 input to nothing"):
        build_classifier(config(model="keras_cnn", conv_blocks=4, strides=2, padding="valid"), (28, 28, 1), 10)


def test_presets_apply_but_explicit_values_win():
    assert config(model="keras_mlp").batch_size == 128
    assert config(model="keras_mlp", batch_size=16).batch_size == 16
    assert config(model="keras_cnn").optimizer == "adadelta"


def test_config_refuses_unknown_keys_and_wrong_types_naming_the_key():
    with pytest.raises(ConfigError, match="unknown config key 'learning_rat'"):
        config(learning_rat=0.1)
    with pytest.raises(ConfigError, match="batch_size: expected an integer"):
        config(batch_size="big")
    with pytest.raises(ConfigError, match="padding: expected one of"):
        config(padding="full")
    with pytest.raises(ConfigError, match=r"dense_dropout: 1\.5 is out of range"):
        config(dense_dropout=1.5)
    assert config(learning_rate=1).learning_rate == 1.0  # ints are fine where floats are expected


def test_the_misclassified_grid_shows_exactly_the_wrong_images_among_the_first_512():
    from trainers.classification import misclassified_grid

    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3, kernel_initializer="zeros",
                                                 bias_initializer=keras.initializers.Constant([1.0, 0.0, 0.0]))])
    images = np.stack([np.full((4, 4, 1), index / 600, dtype="float32") for index in range(600)])
    labels = np.array([0 if index % 3 else 1 for index in range(600)])  # the model always says 0: every third wrong
    grid = misclassified_grid(model, images, labels, count=200)
    wrong = len(range(0, 512, 3))  # 171 wrong among the first 512; the 88 beyond 512 are not looked at
    rows = -(-wrong // 8)
    assert grid.shape == (rows * 6 + 2, 8 * 6 + 2)
    assert grid[2:6, 2:6].max() == 0 and grid[2:6, 8:12].min() == round(3 / 600 * 255)  # images 0 and 3, in order


@pytest.mark.parametrize("model", ["cpu_cnn", "cpu_mlp"])
def test_augmentation_moves_training_images_only_and_survives_saving(model, tmp_path):
    """Shift and flip change what a training step sees (a different output per call) and nothing at inference;
    the saved model loads back with them; a shift outside [0, 1) is refused by name."""
    plain = build_classifier(config(model=model, seed=3), (28, 28, 1), 10)
    augmented = build_classifier(config(model=model, seed=3, augment_shift=0.25, augment_flip=True), (28, 28, 1), 10)
    assert augmented.count_params() == plain.count_params()
    names = [type(layer).__name__ for layer in augmented.layers]
    assert "RandomFlip" in names and "RandomTranslation" in names
    assert "RandomFlip" not in [type(layer).__name__ for layer in plain.layers]
    images = np.zeros((4, 28, 28, 1), dtype="float32")
    images[:, 4:12, 2:9] = 1.0  # an off-centre block: shifting or flipping it changes the image
    at_inference = [keras.ops.convert_to_numpy(augmented(images, training=False)) for _ in range(2)]
    np.testing.assert_array_equal(*at_inference)
    in_training = [keras.ops.convert_to_numpy(augmented(images, training=True)) for _ in range(2)]
    if model == "cpu_cnn":  # batch norm: training mode normalises by the batch; compare two training calls
        assert not np.allclose(*in_training)
    else:
        assert not np.allclose(in_training[0], at_inference[0])
    path = tmp_path / "augmented.keras"
    augmented.save(path)
    loaded = keras.saving.load_model(path)  # (batch norm's moving statistics moved in the training calls)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(images, training=False)),
                               keras.ops.convert_to_numpy(augmented(images, training=False)), rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="augment_shift"):
        config(model=model, augment_shift=1.5)
