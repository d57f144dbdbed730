"""The generative finding's second measure beside the Fréchet distance: would a classifier recognise the samples?

For MNIST and Fashion-MNIST, a classifier of the Fréchet features' architecture (`trainers.generative.quality`)
trained on every real training image with its labels (never on generated ones; the Fréchet one sees 6,000 for 2
epochs and is too unsure of real test digits to judge), and also shown uniform noise and pixel-shuffled images
with a uniform target so that images of no class are not read confidently, labels each sample; the share it labels with
softmax confidence >= 0.9 and the class spread of those labels say whether a model draws recognisable digits or
garments of every class. Every dataset (faces too, which have no class a sample should belong to) also gets the
samples' diversity: the mean pairwise distance of their Fréchet features, beside the same measure on real images.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from analysis.findings.generative_store import cached_json, load_outputs, uniform_noise

CLASSES = 10  # of each labelled dataset
LABELLED = ("mnist", "fashion_mnist")  # datasets whose classes a sample should show (not the faces' identities)
FIELDS = ("dataset", "model", "compared", "count", "recognised_share", "classes_present", "class_entropy",
          "class_counts", "label_accuracy", "diversity")


def _measures(extractor: Any, classifier: Any | None, images: np.ndarray, labels: np.ndarray | None = None) -> dict:
    """Feature diversity; with a classifier, recognisability and the accuracy against `labels` when given."""
    from trainers.generative.quality import mean_pairwise_distance, recognisability

    measured: dict[str, Any] = {"diversity": round(mean_pairwise_distance(
        extractor.predict(images, batch_size=256, verbose=0)), 3)}
    if classifier is not None:
        probabilities = np.asarray(classifier.predict(images, batch_size=256, verbose=0))
        scores = recognisability(probabilities)
        measured.update({**scores, "recognised_share": round(scores["recognised_share"], 4),
                         "class_entropy": round(scores["class_entropy"], 3)})
        if labels is not None:
            measured["label_accuracy"] = round(float(np.mean(probabilities.argmax(axis=1) == labels)), 4)
    return measured


def recognisability_rows(dataset: str, halves: tuple[np.ndarray, np.ndarray], labels_b: np.ndarray,
                         models: dict[str, Path], feature_train_images: int, recognition_train_images: int,
                         store: Path) -> list[dict[str, Any]]:
    """Rows of FIELDS: real half B (with the classifier's accuracy on it) and uniform noise as references, then
    each model's samples; recognisability columns are empty for unlabelled datasets. Cached like the Fréchet rows.
    Diversity is measured in the Fréchet features (`feature_train_images`), recognisability with a classifier
    trained on `recognition_train_images` real training images."""
    count, shape = len(halves[0]), tuple(halves[0].shape[1:])
    key = f"{dataset}-{shape[0]}px-{feature_train_images}img-{recognition_train_images}rec-oe-{count}"
    holder: list[Any] = []

    def measure(images: np.ndarray, labels: np.ndarray | None = None) -> dict[str, Any]:
        if not holder:  # the networks (and keras) only when something is not cached yet
            from trainers.generative.quality import feature_classifier, feature_extractor

            holder.extend([feature_extractor(dataset, shape, feature_train_images), feature_classifier(
                dataset, shape, recognition_train_images, reject_noise=True) if dataset in LABELLED else None])
        return _measures(*holder, images, labels)

    references = cached_json(store / "references" / f"recognisability-{key}.json", lambda: {
        "real half B (reference)": measure(halves[1], labels_b),
        "uniform noise (reference)": measure(uniform_noise(halves[0]))})
    measured = [("-", name, values) for name, values in references.items()]
    for model, directory in models.items():
        asked = asked_labels(directory, count)  # a conditional model's: scored also against the digits asked for
        values = cached_json(directory / f"recognisability-{key}{'-asked' if asked is not None else ''}.json",
                             lambda directory=directory, asked=asked: measure(load_outputs(directory)["samples"],
                                                                              asked))
        measured.append((model, "samples", values))
    rows = []
    for model, compared, values in measured:
        counts = values.get("class_counts")
        rows.append({"dataset": dataset, "model": model, "compared": compared, "count": count,
                     **{name: values.get(name, "") for name in FIELDS[4:]},
                     "class_counts": " ".join(map(str, counts)) if counts else ""})
    return rows


def asked_labels(directory: Path, count: int) -> np.ndarray | None:
    """The classes a class-conditional model's stored samples were asked for (as `Generative.draw_latents` drew
    them), or None for an unconditional model."""
    from trainers.generative.families import asked_classes

    config = json.loads((directory / "model.json").read_text())["config"]
    return asked_classes(count, CLASSES) if config.get("conditional") else None


def markdown_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The summary's section: what the score measures, then one row per set."""
    lines = ["## Recognisability and diversity", "",
             "Recognised: the share of images that a classifier trained on every real training image with its label "
             "(never on generated images; its accuracy on real half B is in the table, and on a class-conditional "
             "model's samples against the digits they were asked for), and on uniform noise and "
             "pixel-shuffled images with a uniform target (outlier exposure), labels with softmax "
             "confidence >= 0.9; classes: how many "
             "of the 10 classes those confident labels fall in, and their spread's entropy over log 10 (1 = even). "
             "A classifier can still be confidently wrong about images unlike any it trained on, so a high share in "
             "one or two classes only is no recognisability: read the share with the classes and the noise row. "
             "Faces have no class a sample should show, so only their diversity is given: the mean pairwise "
             "distance of a set's Fréchet features, near 0 when a generator collapses, beside real images' own.", "",
             "| dataset | model | set | images | recognised | classes present | class entropy | confident labels "
             "per class | classifier accuracy | diversity |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        share = f"{100 * float(row['recognised_share']):.1f}%" if row["recognised_share"] != "" else "n/a"
        accuracy = f"{100 * float(row['label_accuracy']):.1f}%" if row["label_accuracy"] != "" else ""
        lines.append(f"| {row['dataset']} | {row['model']} | {row['compared']} | {row['count']} | {share} | "
                     f"{row['classes_present'] if row['classes_present'] != '' else 'n/a'} | "
                     f"{row['class_entropy'] if row['class_entropy'] != '' else 'n/a'} | "
                     f"{row['class_counts'] or 'n/a'} | {accuracy} | {float(row['diversity']):.2f} |")
    return [*lines, ""]
