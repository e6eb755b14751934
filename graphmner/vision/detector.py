"""Object detection over an image folder, run once and cached: ``graphmner detect``.

The only module that imports ``ultralytics``. Weights are a path or a model
name (``yolov8n.pt`` downloads when online); a ``.yaml`` builds the
architecture with random weights (offline tests). Images are read by
:func:`graphmner.vision.images.open_image`; one that cannot be read is counted
and written to the cache as an error line, never replaced by another.

Cache format (JSON Lines: the detector's settings, then one image per line)::

    {"meta": {"weights": "yolov8n.pt", "conf": 0.25, "max_det": 20, "imgsz": 640}}
    {"image_id": "27", "objects": [{"label": "person", "box_xyxyn": [x1, y1, x2, y2], "score": 0.91}, ...]}
    {"image_id": "99", "error": "cannot identify image file"}
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from graphmner.formats import FormatError, check_image_id, read_text_strict
from graphmner.vision.images import UnreadableImageError, list_images, open_image
from graphmner.vision.sources import SourceReport

log = logging.getLogger(__name__)


@dataclass
class DetectionReport:
    images: int = 0
    detected: int = 0  # images with at least one object
    objects: int = 0
    unreadable: dict[str, str] = field(default_factory=dict)  # image id -> why

    def summary(self) -> str:
        return (f"{self.images} images: {self.images - len(self.unreadable)} read, {len(self.unreadable)} unreadable, "
                f"{self.detected} with objects, {self.objects} objects")


class Detector:
    """A YOLO model with its settings: ``detect(images)`` -> each image's objects (JSON-ready dicts).

    ``meta`` is what a detection cache records, so that ``graphmner predict --image`` can detect
    a new image the way the training images were.
    """

    def __init__(self, weights: str, conf: float = 0.25, max_det: int = 20, device: str | None = None,
                 imgsz: int = 640):
        import ultralytics.nn.tasks
        from ultralytics import YOLO

        # ultralytics unpickles checkpoints whole by default, running whatever code a file holds; its restricted
        # loader (torch's weights_only with an allow-list of its own classes) reads every YOLO checkpoint
        ultralytics.nn.tasks.SAFE_LOAD = True
        try:
            self.model = YOLO(weights)
        except Exception as err:  # ultralytics and torch raise many types for a file they cannot read
            reason = " ".join(str(err).split())[:200]
            raise ValueError(f"--weights {weights}: no YOLO detector could be loaded from it ({type(err).__name__}: "
                             f"{reason}); a checkpoint holding other Python objects is refused, never run") from None
        self.device = device
        self.meta = {"weights": str(weights), "conf": conf, "max_det": max_det, "imgsz": imgsz}

    def detect(self, images: list) -> list[list[dict]]:
        """PIL images -> per image ``[{"label", "box_xyxyn", "score"}, ...]``."""
        results = self.model.predict(source=images, conf=self.meta["conf"], max_det=self.meta["max_det"],
                                     device=self.device, imgsz=self.meta["imgsz"], verbose=False)
        return [[{"label": result.names[int(c)], "box_xyxyn": [round(float(v), 4) for v in box],
                  "score": round(float(s), 4)}
                 for box, s, c in zip(result.boxes.xyxyn.tolist(), result.boxes.conf.tolist(),
                                      result.boxes.cls.tolist())]
                for result in results]


@dataclass(frozen=True)
class Detection:
    """One detected object, as a detection cache holds it."""

    label: str
    box_xyxyn: tuple[float, float, float, float] | None  # normalised (x1, y1, x2, y2)
    score: float  # the detector's confidence


def to_detections(entries: list[dict]) -> list[Detection]:
    """JSON-ready object dicts (a cache line, :meth:`Detector.detect`) -> :class:`Detection` s.

    Raises:
        ValueError: a label that is not a non-empty string, a score that is not a number in [0, 1] (NaN
            and infinities included), a box that is not four numbers in [0, 1] with x1 <= x2 and y1 <= y2.
    """
    out = []
    for o in entries:
        label, score, box = o["label"], o["score"], o.get("box_xyxyn")
        if not isinstance(label, str) or not label.strip():
            raise ValueError(f"label {label!r} is not a non-empty string")
        if not _unit(score):
            raise ValueError(f"score {score!r} of {label!r} is not a number in [0, 1]")
        if box is not None:
            if not isinstance(box, list) or len(box) != 4 or not all(map(_unit, box)) \
                    or box[0] > box[2] or box[1] > box[3]:
                raise ValueError(f"box {box!r} of {label!r} is not [x1, y1, x2, y2] in [0, 1] with x1 <= x2, "
                                 f"y1 <= y2")
        out.append(Detection(label, tuple(float(v) for v in box) if box else None, float(score)))
    return out


def _unit(value) -> bool:
    """A finite number in [0, 1] (NaN fails every comparison)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0


def detect_images(image_dir: str | Path, weights: str, output: str | Path, conf: float = 0.25, batch: int = 16,
                  max_det: int = 20, device: str | None = None, imgsz: int = 640) -> DetectionReport:
    """Run YOLO over every image in ``image_dir`` and write the cache to ``output``."""
    image_dir, output = Path(image_dir), Path(output)
    paths = list_images(image_dir)
    detector = Detector(weights, conf, max_det, device, imgsz)
    report = DetectionReport(images=len(paths))
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"meta": detector.meta}) + "\n")
        for start in tqdm(range(0, len(paths), batch), desc="detect", unit="batch"):
            images, ids = [], []
            for path in paths[start:start + batch]:
                try:
                    images.append(open_image(path))
                    ids.append(path.stem)
                except UnreadableImageError as err:
                    report.unreadable[path.stem] = err.reason
                    out.write(json.dumps({"image_id": path.stem, "error": report.unreadable[path.stem]}) + "\n")
            if not images:
                continue
            for image_id, objects in zip(ids, detector.detect(images)):
                report.detected += bool(objects)
                report.objects += len(objects)
                out.write(json.dumps({"image_id": image_id, "objects": objects}) + "\n")
    log.info("detect %s -> %s: %s", image_dir, output, report.summary())
    for image_id, why in list(report.unreadable.items())[:5]:
        log.warning("unreadable image %s: %s", image_id, why)
    return report


def detection_meta(path: str | Path) -> dict:
    """The settings a detection cache was written with (its first line); ``{}`` for older caches."""
    with Path(path).open(encoding="utf-8") as f:
        first = f.readline()
    try:
        return json.loads(first).get("meta", {}) if first.strip() else {}
    except (ValueError, AttributeError):
        return {}


def read_detections(path: str | Path, report: SourceReport | None = None
                    ) -> tuple[dict[str, list[Detection]], dict[str, str]]:
    """A detection cache: ``({image_id: objects}, {image_id: error})``; ``report`` gets the counts.

    A malformed line, or an image listed twice with different contents, is an error naming file and
    line; the same line repeated (caches concatenated) is skipped and counted.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"detection cache not found: {path} (write it with graphmner detect)")
    report = report if report is not None else SourceReport("detections", str(path))
    detections: dict[str, list[Detection]] = {}
    errors: dict[str, str] = {}
    seen: dict[str, tuple[int, str]] = {}  # image id -> (line, text) of its entry
    for number, line in enumerate(read_text_strict(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if number == 1 and "meta" in entry:
                continue
            image_id = entry["image_id"]
            problem = check_image_id(image_id) if isinstance(image_id, str) else "image_id is not a string"
            if problem is not None:
                raise ValueError(problem)
            if image_id in seen:
                first, text = seen[image_id]
                if text.strip() != line.strip():
                    raise ValueError(f"image {image_id} appears twice, differently (first on line {first})")
                report.count_duplicate(f"{path}:{number}")
                continue
            seen[image_id] = (number, line)
            if "error" in entry:
                errors[image_id] = str(entry["error"])
                continue
            detections[image_id] = to_detections(entry["objects"])
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise FormatError(path, number, f"not a detection cache line ({err})") from None
    report.entries, report.unreadable = len(detections), len(errors)
    return detections, errors
