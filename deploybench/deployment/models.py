"""The model registry: which networks the deployment space can choose from.

A model is described by a :class:`ModelSpec`. Its ``builder`` is an import path
``"module:function"`` (not a Python object) because every measurement runs in a fresh
worker process that must be able to import it. Builders return an ``nn.Module`` with
random weights (``weights=None``); pretrained weights are loaded by the profiler only
when a checkpoint is already on disk (nothing is ever downloaded).

This module never imports torch; the builders import it when they are called.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from typing import Any

ACCURACY_SOURCES = ("model_card", "model_card_external")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """How to build one model and where its reference accuracy comes from.

    Attributes:
        name: Registry name used in configurations, e.g. ``"resnet18"``.
        builder: Import path ``"module:function"``; ``function()`` returns an
            ``nn.Module`` taking ``(N, 3, H, W)`` float input and returning logits.
        weights: Optional import path of a torchvision weights enum member, e.g.
            ``"torchvision.models:ResNet18_Weights.IMAGENET1K_V1"``. Its metadata gives
            the model-card accuracy and the checkpoint file name looked up on disk.
        model_card_accuracy: Top-1 accuracy as a fraction in (0, 1] when it is not read
            from ``weights`` metadata.
        accuracy_source: ``"model_card"`` or ``"model_card_external"`` (published by a
            third party for an architecture torchvision ships no weights for).
        source: Human-readable citation of the accuracy number.
        import_root: Directory put on the worker's ``sys.path`` so that a user builder
            defined outside an installed package can be imported.
        checkpoint: Optional path of a state-dict file with pretrained weights.
    """

    name: str
    builder: str
    weights: str | None = None
    model_card_accuracy: float | None = None
    accuracy_source: str = "model_card"
    source: str = ""
    import_root: str | None = None
    checkpoint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# ----------------------------------------------------------------------------- builders


def build_resnet18() -> Any:
    """torchvision ResNet-18 with random weights."""
    from torchvision.models import resnet18

    return resnet18(weights=None)


def build_resnet50() -> Any:
    """torchvision ResNet-50 with random weights."""
    from torchvision.models import resnet50

    return resnet50(weights=None)


def build_mobilenet_v2() -> Any:
    """torchvision MobileNetV2 with random weights."""
    from torchvision.models import mobilenet_v2

    return mobilenet_v2(weights=None)


def build_efficientnet_b0() -> Any:
    """torchvision EfficientNet-B0 with random weights."""
    from torchvision.models import efficientnet_b0

    return efficientnet_b0(weights=None)


def build_vit_ti16() -> Any:
    """A real ViT-Ti/16 (5.7M parameters): 12 layers, 3 heads, width 192, MLP 768."""
    from torchvision.models.vision_transformer import VisionTransformer

    return VisionTransformer(
        image_size=224, patch_size=16, num_layers=12, num_heads=3, hidden_dim=192, mlp_dim=768
    )


def build_vit_b16() -> Any:
    """torchvision ViT-B/16 (86M parameters) with random weights."""
    from torchvision.models import vit_b_16

    return vit_b_16(weights=None)


def _tv(weights: str) -> str:
    return f"torchvision.models:{weights}"


_BUILTINS: dict[str, ModelSpec] = {
    "resnet18": ModelSpec(
        "resnet18", f"{__name__}:build_resnet18", weights=_tv("ResNet18_Weights.IMAGENET1K_V1"),
        source="torchvision ResNet18_Weights.IMAGENET1K_V1 acc@1",
    ),
    "resnet50": ModelSpec(
        "resnet50", f"{__name__}:build_resnet50", weights=_tv("ResNet50_Weights.IMAGENET1K_V1"),
        source="torchvision ResNet50_Weights.IMAGENET1K_V1 acc@1",
    ),
    "mobilenet_v2": ModelSpec(
        "mobilenet_v2", f"{__name__}:build_mobilenet_v2",
        weights=_tv("MobileNet_V2_Weights.IMAGENET1K_V1"),
        source="torchvision MobileNet_V2_Weights.IMAGENET1K_V1 acc@1",
    ),
    "efficientnet_b0": ModelSpec(
        "efficientnet_b0", f"{__name__}:build_efficientnet_b0",
        weights=_tv("EfficientNet_B0_Weights.IMAGENET1K_V1"),
        source="torchvision EfficientNet_B0_Weights.IMAGENET1K_V1 acc@1",
    ),
    "vit_ti16": ModelSpec(
        "vit_ti16", f"{__name__}:build_vit_ti16", model_card_accuracy=0.722,
        accuracy_source="model_card_external",
        source=(
            "DeiT-Ti published ImageNet-1k top-1 72.2% (Touvron et al. 2021); torchvision "
            "ships no ViT-Ti/16 weights, so this is not a measurement of this network"
        ),
    ),
    "vit_b16": ModelSpec(
        "vit_b16", f"{__name__}:build_vit_b16", weights=_tv("ViT_B_16_Weights.IMAGENET1K_V1"),
        source="torchvision ViT_B_16_Weights.IMAGENET1K_V1 acc@1",
    ),
}

BUILTIN_MODELS: tuple[str, ...] = tuple(_BUILTINS)


class ModelRegistry:
    """Name to :class:`ModelSpec`; starts with the built-in models.

    A process-wide default instance backs :func:`register_model` and
    :func:`get_model_spec`; pass your own instance where explicit state is preferred.
    """

    def __init__(self) -> None:
        self._specs: dict[str, ModelSpec] = dict(_BUILTINS)

    def names(self) -> tuple[str, ...]:
        """Registered names (built-ins first, then user models in registration order)."""
        return tuple(self._specs)

    def get(self, name: str) -> ModelSpec:
        """The spec for ``name``; raises ``KeyError`` with the known names."""
        if name in self._specs:
            return self._specs[name]
        hook = _test_hook_spec(name)
        if hook is not None:
            return hook
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(self._specs)}")

    def register(self, spec: ModelSpec, *, overwrite: bool = False) -> None:
        """Add ``spec``; refuses to replace an existing name unless ``overwrite``."""
        if spec.name in self._specs and not overwrite:
            raise ValueError(f"model {spec.name!r} is already registered (pass overwrite=True)")
        self._specs[spec.name] = spec


DEFAULT_REGISTRY = ModelRegistry()


def _builder_path(builder: str | Callable[[], Any]) -> tuple[str, str | None]:
    """Import path and import root for a builder given as a path or a function."""
    if isinstance(builder, str):
        module, _, attr = builder.partition(":")
        if not module or not attr:
            raise ValueError(f"builder must look like 'module:function', got {builder!r}")
        return builder, None
    if not callable(builder):
        raise TypeError(f"builder must be a callable or 'module:function', got {builder!r}")
    module_name = getattr(builder, "__module__", None)
    qualname = getattr(builder, "__qualname__", "")
    if not module_name or "<" in qualname or module_name == "__main__":
        raise ValueError(
            "builder must be a module-level function importable by a fresh worker process "
            f"(got {module_name}:{qualname}); move it into a module and pass it or its "
            "'module:function' path"
        )
    root: str | None = None
    file = getattr(sys.modules.get(module_name), "__file__", None)
    if file:
        root = os.path.dirname(os.path.abspath(file))
        for _ in range(module_name.count(".")):
            root = os.path.dirname(root)
    return f"{module_name}:{qualname}", root


def register_model(
    name: str,
    builder: str | Callable[[], Any],
    *,
    model_card_accuracy: float,
    source: str,
    checkpoint: str | None = None,
    accuracy_source: str = "model_card",
    overwrite: bool = False,
    registry: ModelRegistry | None = None,
) -> ModelSpec:
    """Make a user model available to the deployment space and the profiler.

    Args:
        name: Registry name (letters, digits, ``_``, ``-``, ``.``).
        builder: Module-level function (or its ``"module:function"`` path) returning an
            ``nn.Module`` that maps ``(N, 3, 224, 224)`` images to ImageNet logits.
        model_card_accuracy: Reference top-1 accuracy as a fraction in (0, 1].
        source: Where ``model_card_accuracy`` comes from (shown in results).
        checkpoint: Optional state-dict file; with ``data_dir`` it enables measured accuracy.
        accuracy_source: ``"model_card"`` or ``"model_card_external"``.
        overwrite: Replace an existing registration with the same name.
        registry: Registry to add to (default: the process-wide registry).
    """
    if not name or not all(c.isalnum() or c in "_-." for c in name) or name.startswith("_"):
        raise ValueError(f"invalid model name {name!r}: use letters, digits, '_', '-', '.'")
    acc = float(model_card_accuracy)
    if not 0.0 < acc <= 1.0:
        raise ValueError(f"model_card_accuracy must be a fraction in (0, 1], got {acc}")
    if accuracy_source not in ACCURACY_SOURCES:
        raise ValueError(f"accuracy_source must be one of {ACCURACY_SOURCES}")
    if checkpoint is not None and not os.path.isfile(checkpoint):
        raise FileNotFoundError(f"checkpoint {checkpoint!r} does not exist")
    path, root = _builder_path(builder)
    spec = ModelSpec(
        name=name, builder=path, model_card_accuracy=acc, accuracy_source=accuracy_source,
        source=source, import_root=root,
        checkpoint=None if checkpoint is None else os.path.abspath(checkpoint),
    )
    (registry or DEFAULT_REGISTRY).register(spec, overwrite=overwrite)
    return spec


def get_model_spec(name: str, registry: ModelRegistry | None = None) -> ModelSpec:
    """Look up a model (test-only hook models resolve only under the test switch)."""
    return (registry or DEFAULT_REGISTRY).get(name)


def _test_hook_spec(name: str) -> ModelSpec | None:
    from deploybench.profiling import _testing

    if not name.startswith("_test_") or not _testing.hooks_enabled():
        return None
    if name not in _testing.HOOK_MODELS:
        return None
    return ModelSpec(
        name=name, builder=f"deploybench.profiling._testing:{_testing.HOOK_MODELS[name]}",
        model_card_accuracy=0.5, source="test hook", accuracy_source="model_card",
    )
