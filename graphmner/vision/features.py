"""Image features from a vision backbone, extracted once and cached: ``graphmner extract-features``.

Each image gives a global vector and a grid of region vectors, the visual
tokens of UMT-style models:

============  ===========================  ==============================
backbone      grid (R, D)                  global (D,)
============  ===========================  ==============================
resnet152     7 x 7 = 49 regions, 2048     mean of the grid (UMT's setup)
vit_b_16      196 patch tokens, 768        the class token
============  ===========================  ==============================

With ``regions`` (a ``graphmner detect`` cache, ``--regions``) the grid is instead one vector per detected
region: the image cropped to each box, the most confident first, encoded whole by the backbone (its global
vector), ``max_regions`` of them (UMGF's four visual nodes); an image with fewer boxes fills the rest with
the whole image, as UMGF's grounding always returns some region. The global vector stays the whole image's.

Images are resized (shorter side 256) *before* the 224 centre crop, so small
images work (UMT's RandomCrop without a resize fails on them), and normalised
with the ImageNet statistics the torchvision weights expect. Weights:
``default`` (torchvision's pretrained weights, downloaded when online), a path
to a state dict (``.safetensors``, or a torch file loaded with
``weights_only=True``), or ``random`` (offline tests).

Cache: one torch file of plain tensors and containers (loads with
``torch.load(weights_only=True)``): ``ids`` (image ids, row order), ``global``
``(N, D)`` and ``grid`` ``(N, R, D)`` in bfloat16 (half the size of
float32, and its range: random-init ResNet activations overflow float16), ``errors``
``{image_id: why}`` for unreadable images (counted, never replaced), ``meta``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torchvision
from safetensors.torch import load_file
from torch import Tensor, nn
from torchvision import transforms
from tqdm.auto import tqdm

from graphmner.formats import check_image_id
from graphmner.vision.detector import Detection, read_detections
from graphmner.vision.images import UnreadableImageError, list_images, open_image

log = logging.getLogger(__name__)

BACKBONES = ("resnet152", "vit_b_16")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class FeatureExtractor(nn.Module):
    """A torchvision backbone cut where the regions are.

    Shapes: ``(N, 3, 224, 224)`` images -> global ``(N, D)``, grid ``(N, R, D)``."""

    def __init__(self, backbone: str, weights: str = "default"):
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {backbone!r}; known: {', '.join(BACKBONES)}")
        self.backbone, self.weights = backbone, str(weights)
        pretrained = None
        if weights == "default":
            pretrained = torchvision.models.get_model_weights(backbone).DEFAULT
        try:
            model = torchvision.models.get_model(backbone, weights=pretrained)
        except Exception as err:  # network errors come in many types
            raise FileNotFoundError(f"cannot get torchvision's default weights for {backbone} ({err}); offline, pass "
                                    f"--weights PATH (a state dict) or --weights random") from err
        if weights not in ("default", "random"):
            try:
                model.load_state_dict(_load_state_dict(weights))
            except RuntimeError as err:  # keys or shapes of another architecture
                reason = " ".join(str(err).split())[:200]
                raise ValueError(f"--weights {weights}: not the weights of a {backbone} ({reason})") from None
        if backbone == "resnet152":
            self.body = nn.Sequential(*list(model.children())[:-2])  # up to layer4: (N, 2048, 7, 7)
            self.dim = 2048
        else:
            self.vit = model
            self.dim = model.hidden_dim

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        if self.backbone == "resnet152":
            grid = self.body(images).flatten(2).transpose(1, 2)  # (N, 49, 2048)
            return grid.mean(dim=1), grid
        tokens = self.vit._process_input(images)  # (N, 196, 768) patch embeddings
        cls = self.vit.class_token.expand(tokens.shape[0], -1, -1)
        tokens = self.vit.encoder(torch.cat([cls, tokens], dim=1))  # position embeddings, blocks, final norm
        return tokens[:, 0], tokens[:, 1:]


def _load_state_dict(path: str) -> dict[str, Tensor]:
    if not Path(path).is_file():
        raise FileNotFoundError(f"--weights {path}: no such file (or use 'default' / 'random')")
    try:
        state = load_file(path) if path.endswith(".safetensors") else torch.load(path, map_location="cpu",
                                                                                 weights_only=True)
    except Exception as err:  # safetensors and torch's unpickler raise their own types; nothing in the file is run
        reason = " ".join(str(err).split())[:200]
        raise ValueError(f"--weights {path}: not a state dict graphmner can read safely ({type(err).__name__}: "
                         f"{reason}); save one with torch.save(model.state_dict()) or safetensors") from None
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"--weights {path}: holds a {type(state).__name__}, not a state dict of tensors")
    return state


def preprocess():
    """Resize the shorter side to 256, centre-crop 224, normalise (ImageNet statistics)."""
    return transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                               transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


@dataclass
class FeatureReport:
    images: int = 0
    extracted: int = 0
    unreadable: dict[str, str] = field(default_factory=dict)  # image id -> why

    def summary(self) -> str:
        return f"{self.images} images: {self.extracted} extracted, {len(self.unreadable)} unreadable"


def crops(image, detections: list[Detection], count: int) -> list:
    """``count`` PIL images: ``image`` cropped to its most confident boxes (normalised xyxy), then the whole
    image for each box it lacks."""
    boxed = sorted((d for d in detections if d.box_xyxyn is not None), key=lambda d: -d.score)[:count]
    width, height = image.size
    out = []
    for d in boxed:
        x1, y1, x2, y2 = d.box_xyxyn
        box = (int(x1 * width), int(y1 * height), max(int(x2 * width), int(x1 * width) + 1),
               max(int(y2 * height), int(y1 * height) + 1))  # at least one pixel each way
        out.append(image.crop(box))
    return out + [image] * (count - len(out))


@torch.no_grad()
def features_of(paths: list[Path], model: FeatureExtractor, batch: int = 16, device: str = "cpu",
                report: FeatureReport | None = None, desc: str | None = None,
                regions: dict[str, list[Detection]] | None = None, max_regions: int = 4) -> ImageFeatures:
    """Run ``model`` over image files (id = file stem) into an in-memory :class:`ImageFeatures`;
    unreadable images go to ``errors`` (and ``report``), never replaced. With ``regions`` (image id ->
    detections) the grid is ``max_regions`` region vectors per image (see the module docstring)."""
    transform = preprocess()
    report = report if report is not None else FeatureReport(images=len(paths))
    model = model.eval().to(device)
    per_image = 1 + max_regions if regions is not None else 1  # inputs per image: itself, then its crops
    ids, globals_, grids = [], [], []
    for start in tqdm(range(0, len(paths), batch), desc=desc or f"features ({model.backbone})", unit="batch",
                      disable=len(paths) <= batch and desc is None):
        images = []
        for path in paths[start:start + batch]:
            try:
                image = open_image(path)
                found = [image] + (crops(image, regions.get(Path(path).stem, []), max_regions)
                                   if regions is not None else [])
                images += [transform(x) for x in found]
                ids.append(Path(path).stem)
            except UnreadableImageError as err:
                report.unreadable[Path(path).stem] = err.reason
        if images:
            pooled, grid = model(torch.stack(images).to(device))
            if regions is not None:  # each crop's global vector is a region
                pooled = pooled.view(-1, per_image, pooled.shape[-1])
                pooled, grid = pooled[:, 0], pooled[:, 1:]
            globals_.append(pooled.to(torch.bfloat16).cpu())
            grids.append(grid.to(torch.bfloat16).cpu())
    report.extracted = len(ids)
    dim = model.dim
    meta = {"backbone": model.backbone, "weights": model.weights, "dim": dim,
            "regions": int(grids[0].shape[1]) if grids else 0,
            "grid": "detected regions" if regions is not None else "backbone"}
    return ImageFeatures({image_id: i for i, image_id in enumerate(ids)},
                         torch.cat(globals_) if globals_ else torch.empty(0, dim, dtype=torch.bfloat16),
                         torch.cat(grids) if grids else torch.empty(0, 0, dim, dtype=torch.bfloat16),
                         dict(report.unreadable), meta)


def extract_features(image_dir: str | Path, backbone: str, output: str | Path, weights: str = "default",
                     batch: int = 16, device: str = "cpu", regions: str | Path | None = None,
                     max_regions: int = 4) -> FeatureReport:
    """Run the backbone over every image of ``image_dir`` and write the cache to ``output``; with ``regions``
    (a detection cache) the grid is ``max_regions`` detected regions per image."""
    paths = list_images(image_dir)
    report = FeatureReport(images=len(paths))
    boxes = read_detections(regions)[0] if regions is not None else None
    found = features_of(paths, FeatureExtractor(backbone, weights), batch, device, report,
                        desc=f"features ({backbone}{', regions' if boxes is not None else ''})", regions=boxes,
                        max_regions=max_regions)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"ids": list(found.index), "global": found.global_, "grid": found.grid, "errors": found.errors,
                "meta": found.meta}, str(output))
    log.info("extract-features %s -> %s: %s", image_dir, output, report.summary())
    for image_id, why in list(report.unreadable.items())[:5]:
        log.warning("unreadable image %s: %s", image_id, why)
    return report


@dataclass
class ImageFeatures:
    """A feature cache in memory: look images up by id."""

    index: dict[str, int]
    global_: Tensor  # (N, D) bfloat16
    grid: Tensor  # (N, R, D) bfloat16
    errors: dict[str, str]
    meta: dict

    @property
    def dim(self) -> int:
        return int(self.meta["dim"])

    @property
    def regions(self) -> int:
        return int(self.meta["regions"])

    def get(self, image_id: str) -> tuple[Tensor, Tensor] | None:
        """``(global (D,), grid (R, D))`` in float32, or None for an image not in the cache."""
        row = self.index.get(image_id)
        return None if row is None else (self.global_[row].float(), self.grid[row].float())


def read_features(path: str | Path) -> ImageFeatures:
    """A cache written by :func:`extract_features` (nothing is unpickled)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"feature cache not found: {path} (write it with graphmner extract-features)")
    try:
        values = torch.load(str(path), weights_only=True)
    except Exception as err:  # truncated zip, garbage, or a pickle with objects weights_only refuses to build
        raise ValueError(f"{path}: not a readable feature cache ({type(err).__name__}: "
                         f"{' '.join(str(err).split())[:300]})") from None
    missing = {"ids", "global", "grid", "errors", "meta"} - set(values if isinstance(values, dict) else {})
    if missing:
        raise ValueError(f"{path}: not a feature cache (missing {sorted(missing)})")
    problem = _cache_problem(values)
    if problem is not None:
        raise ValueError(f"{path}: not a feature cache ({problem})")
    return ImageFeatures({image_id: i for i, image_id in enumerate(values["ids"])}, values["global"],
                         values["grid"], values["errors"], values["meta"])


def _cache_problem(values: dict) -> str | None:
    """What is wrong with a loaded cache's parts, or None: ids that are no file stems, tensors of the wrong
    shape for them, values no backbone gives (NaN, infinities)."""
    ids, global_, grid, errors, meta = (values[k] for k in ("ids", "global", "grid", "errors", "meta"))
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return "'ids' is not a list of image ids"
    problem = next((p for p in map(check_image_id, ids) if p is not None), None)
    if problem is not None:
        return problem
    if len(set(ids)) != len(ids):
        return "an image id appears twice in 'ids'"
    if not isinstance(global_, Tensor) or global_.dim() != 2 or len(global_) != len(ids):
        return f"'global' is not a ({len(ids)}, D) tensor, one row per id"
    if not isinstance(grid, Tensor) or grid.dim() != 3 or len(grid) != len(ids) or grid.shape[2] != global_.shape[1]:
        return f"'grid' is not a ({len(ids)}, R, {global_.shape[1]}) tensor"
    if not bool(torch.isfinite(global_).all()) or not bool(torch.isfinite(grid).all()):
        return "features hold NaN or infinite values"
    if not isinstance(errors, dict) or not isinstance(meta, dict):
        return "'errors' or 'meta' is not a mapping"
    return None
