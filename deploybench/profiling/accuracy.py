"""Top-1 accuracy on an ImageFolder dataset in ImageNette layout (numpy + PIL only).

ImageNette folders are ImageNet WNIDs; a 1000-class model is scored by comparing its
arg-max with the ImageNet-1k index of the folder's WNID (not with the folder's position
0..9, which would be meaningless for a 1000-way classifier).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

#: ImageNette WNID -> (ImageNet-1k class index, torchvision category name).
IMAGENETTE_CLASSES: dict[str, tuple[int, str]] = {
    "n01440764": (0, "tench"),
    "n02102040": (217, "English springer"),
    "n02979186": (482, "cassette player"),
    "n03000684": (491, "chain saw"),
    "n03028079": (497, "church"),
    "n03394916": (566, "French horn"),
    "n03417042": (569, "garbage truck"),
    "n03425413": (571, "gas pump"),
    "n03445777": (574, "golf ball"),
    "n03888605": (701, "parachute"),
}

_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1)
_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def verify_mapping(categories: Sequence[str]) -> None:
    """Check the WNID -> index table against a model's ImageNet category names.

    Raises:
        ValueError: naming the first index whose category differs.
    """
    for wnid, (index, name) in IMAGENETTE_CLASSES.items():
        if index >= len(categories) or categories[index] != name:
            got = categories[index] if index < len(categories) else None
            raise ValueError(f"{wnid}: ImageNet index {index} is {got!r}, expected {name!r}")


def resolve_split(data_dir: str) -> str:
    """The folder holding the WNID class folders: ``data_dir/val`` if present, else itself."""
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"dataset directory {data_dir!r} does not exist")
    val = os.path.join(data_dir, "val")
    root = val if os.path.isdir(val) else data_dir
    wnids = [d for d in os.listdir(root) if d in IMAGENETTE_CLASSES]
    if not wnids:
        raise FileNotFoundError(
            f"{root!r} has no ImageNette class folders (expected WNIDs such as n01440764)"
        )
    return root


def stratified_sample(data_dir: str, n: int, seed: int = 0) -> list[tuple[str, int]]:
    """Up to ``n`` (path, ImageNet index) pairs, spread evenly over the class folders.

    Each class contributes ``n // classes`` images (the remainder goes to the first
    classes in WNID order), drawn without replacement with a seeded generator.
    """
    if n < 1:
        raise ValueError(f"accuracy sample size must be >= 1, got {n}")
    root = resolve_split(data_dir)
    rng = np.random.default_rng(seed)
    wnids = sorted(d for d in os.listdir(root) if d in IMAGENETTE_CLASSES)
    files = {
        w: sorted(f for f in os.listdir(os.path.join(root, w)) if f.lower().endswith(_EXTENSIONS))
        for w in wnids
    }
    quota = {w: n // len(wnids) + (1 if i < n % len(wnids) else 0) for i, w in enumerate(wnids)}
    out: list[tuple[str, int]] = []
    for w in wnids:
        take = min(quota[w], len(files[w]))
        picks = rng.choice(len(files[w]), size=take, replace=False)
        label = IMAGENETTE_CLASSES[w][0]
        out.extend((os.path.join(root, w, files[w][int(i)]), label) for i in picks)
    return out


def load_image(path: str, image_size: int = 224) -> np.ndarray:
    """Resize the short side to ``image_size * 256/224``, centre-crop, normalise; CHW float32."""
    from PIL import Image

    resize = round(image_size * 256 / 224)
    with Image.open(path) as src:
        rgb = src.convert("RGB")
    w, h = rgb.size
    scale = resize / min(w, h)
    size = (max(resize, round(w * scale)), max(resize, round(h * scale)))
    rgb = rgb.resize(size, Image.Resampling.BILINEAR)
    left, top = (size[0] - image_size) // 2, (size[1] - image_size) // 2
    rgb = rgb.crop((left, top, left + image_size, top + image_size))
    arr = np.asarray(rgb, dtype=np.float32) / 255.0
    return (arr.transpose(2, 0, 1) - _MEAN) / _STD


def top1_accuracy(
    predict: Callable[[np.ndarray], np.ndarray],
    samples: Sequence[tuple[str, int]],
    batch_size: int,
    image_size: int = 224,
    pad_to_batch: bool = False,
) -> float:
    """Fraction of ``samples`` whose arg-max logit equals the label.

    Args:
        predict: Maps a float32 NCHW batch to (N, classes) logits.
        samples: (path, ImageNet index) pairs, e.g. from :func:`stratified_sample`.
        batch_size: Images per call.
        image_size: Crop size.
        pad_to_batch: Pad the last batch to ``batch_size`` (for static-shape backends).
    """
    if not samples:
        raise ValueError("no samples to evaluate")
    correct = 0
    for start in range(0, len(samples), batch_size):
        chunk = samples[start : start + batch_size]
        batch = np.stack([load_image(p, image_size) for p, _ in chunk])
        if pad_to_batch and len(chunk) < batch_size:
            pad = np.zeros((batch_size - len(chunk), *batch.shape[1:]), dtype=batch.dtype)
            batch = np.concatenate([batch, pad])
        logits = np.asarray(predict(batch))[: len(chunk)]
        pred = logits.reshape(len(chunk), -1).argmax(axis=1)
        correct += int(sum(int(p) == y for p, (_, y) in zip(pred, chunk)))
    return correct / len(samples)
