"""Real people answer the loop's requests through Label Studio.

The loop writes one *queue* per round (:func:`write_queue`: the requests plus the items' inputs,
no pickles). :func:`export` turns it into Label Studio tasks and a labeling config; people answer
in Label Studio; :func:`import_answers` reads the project's JSON export back into the ledger,
each (item, action) at most once, so importing the same export twice never charges twice, and
into the domain's answer store (``benchmark.annotation.store``), which outlives the run.

Every task carries its own answer options (a dynamic ``<Choices value="$choices">``), so a person
only sees what the action allows: the class names for ``label`` / ``verify`` (plus
``reject: unrealistic`` on synthetic items), ``keep`` / ``reject: unrealistic`` for ``reject``.
A ``verify`` task comes with the proposed class pre-selected as a prediction.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchmark import modalities
from benchmark.annotation.ledger import NO_LABEL, Annotation, Ledger, Request, content_digest, price
from benchmark.annotation.store import AnswerStore
from benchmark.data import DataFormatError
from benchmark.io import atomic_write, atomic_write_json, atomic_write_npz, atomic_write_text

REJECT = "reject: unrealistic"
KEEP = "keep"
CONTROL, OBJECT = "answer", "item"  # the names of the Choices control and the shown item
ZOOM = 8  # nearest-neighbour upscaling, so a person can see each cell of a 16x16 image
_ARRAYS = ("item", "action", "proposed", "synthetic", "x", "header")
_HEADER = ("round", "fingerprint", "modality", "class_names")


class AnswerError(ValueError):
    """A Label Studio export that does not answer this queue's requests."""


@dataclass(frozen=True)
class Queue:
    """One round's requests as the loop left them for people (``x`` aligned with requests)."""

    path: Path
    requests: list[Request]
    x: np.ndarray
    synthetic: np.ndarray
    round: int
    fingerprint: str
    modality: str
    class_names: list[str]
    store: Path | None = None  # the domain's answer store the answers also go to


def write_queue(path: str | Path, requests: Sequence[Request], x: np.ndarray,
                synthetic: np.ndarray, round_: int, fingerprint: str, modality: str,
                class_names: Sequence[str], store: str | Path | None = None) -> None:
    """Write one round's requests and inputs atomically (the file :func:`read_queue` reads);
    ``store`` (the domain's answer store) is kept relative to the queue's folder.
    """
    x, synthetic = np.asarray(x, dtype=np.float32), np.asarray(synthetic, dtype=bool)
    if not len(requests) == len(x) == len(synthetic):
        raise ValueError(f"{len(requests)} requests but {len(x)} inputs, {len(synthetic)} flags")
    if modality not in modalities.names():
        raise ValueError(f"modality {modality!r} is not one of {modalities.names()}")
    if len({r.key for r in requests}) < len(requests):
        raise ValueError("a request appears twice; the ledger keeps one answer per (item, action)")
    for req, synth in zip(requests, synthetic, strict=True):
        if req.action == "reject" and not synth:
            raise ValueError(f"{req.item}: only synthetic items can be screened (reject)")
    header = {"round": int(round_), "fingerprint": fingerprint, "modality": modality,
              "class_names": list(class_names)}
    if store is not None:
        header["store"] = os.path.relpath(Path(store).resolve(), Path(path).resolve().parent)
    atomic_write_npz(path, {
        "item": np.array([r.item for r in requests], dtype=str),
        "action": np.array([r.action for r in requests], dtype=str),
        "proposed": np.array([r.proposed for r in requests], dtype=np.int64),
        "synthetic": synthetic, "x": x, "header": np.array(json.dumps(header)),
    })


def read_queue(path: str | Path) -> Queue:
    """Read a queue file; a file that is not one raises :class:`DataFormatError` naming it."""
    path = Path(path)
    arrays = _queue_arrays(path)
    try:
        header = json.loads(str(arrays["header"]))
        requests = [Request(str(i), str(a), int(p)) for i, a, p in
                    zip(arrays["item"], arrays["action"], arrays["proposed"], strict=True)]
    except (ValueError, TypeError) as err:
        raise DataFormatError(f"{path}: {err}") from err
    missing = [k for k in _HEADER if k not in header] if isinstance(header, dict) else _HEADER
    if missing:
        raise DataFormatError(f"{path}: header key {missing[0]!r} missing")
    store = path.resolve().parent / header["store"] if header.get("store") else None
    return Queue(path, requests, arrays["x"], arrays["synthetic"].astype(bool), header["round"],
                 header["fingerprint"], header["modality"], list(header["class_names"]), store)


def _queue_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("a single array, not an .npz archive")
        with npz:
            files = list(npz.files)
            arrays = {k: npz[k] for k in _ARRAYS if k in files}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: queue file not found; expected the queue.npz a "
                                "construct run waiting for people wrote in its run folder"
                                ) from None
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        raise DataFormatError(f"{path}: not a queue file ({err})") from err
    missing = [k for k in _ARRAYS if k not in arrays]
    if missing:
        raise DataFormatError(f"{path}: array {missing[0]!r} missing (has {files})")
    return arrays


def label_config(modality: str, class_names: Sequence[str], n_channels: int = 1) -> str:
    """The labeling interface for one modality: the item, what to do, and the task's choices.

    The choices come from each task (``$choices``) because ``reject`` tasks offer other answers
    than ``label`` / ``verify`` tasks; ``class_names`` are checked not to clash with them.
    """
    clash = {KEEP, REJECT} & set(class_names)
    if clash:
        raise ValueError(f"class names {sorted(clash)} clash with the screening answers")
    shown = modalities.modality(modality).ls_object(OBJECT, n_channels)
    return (f'<View>\n  <Header value="$instruction"/>\n  {shown}\n'
            f'  <Choices name="{CONTROL}" toName="{OBJECT}" choice="single" required="true" '
            f'value="$choices"/>\n</View>\n')


def options(queue: Queue, index: int) -> list[str]:
    """The answers a person may give to request ``index``."""
    if queue.requests[index].action == "reject":
        return [KEEP, REJECT]
    return list(queue.class_names) + ([REJECT] if queue.synthetic[index] else [])


def to_tasks(queue: Queue, media_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """One Label Studio task per request; ``verify`` tasks get the proposal as a prediction.

    Images are inline PNG data URIs, or files in ``media_dir`` referenced as Label Studio local
    files (serve them with ``LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true`` and
    ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT`` set to the folder that holds ``media_dir``).
    """
    tasks = []
    for i, req in enumerate(queue.requests):
        data = {"item": req.item, "action": req.action, "proposed": req.proposed,
                "synthetic": bool(queue.synthetic[i]), "round": queue.round,
                "instruction": _instruction(queue, i),
                "choices": [{"value": v} for v in options(queue, i)],
                modalities.modality(queue.modality).ls_key: _shown(queue, i, media_dir)}
        task: dict[str, Any] = {"data": data}
        if req.action == "verify":
            task["predictions"] = [{"model_version": "proposed", "score": 1.0, "result": [
                _choice_result(queue.class_names[req.proposed])]}]
        tasks.append(task)
    return tasks


def _instruction(queue: Queue, index: int) -> str:
    req = queue.requests[index]
    what = "synthetic item" if queue.synthetic[index] else "item"
    if req.action == "reject":
        return f"{req.item} ({what}): keep it, or reject it as unrealistic / off-target."
    if req.action == "verify":
        return (f"{req.item} ({what}): is it {queue.class_names[req.proposed]!r} "
                "(pre-selected)? Keep it or pick the right class.")
    return f"{req.item} ({what}): pick its class."


def _choice_result(choice: str) -> dict[str, Any]:
    return {"from_name": CONTROL, "to_name": OBJECT, "type": "choices",
            "value": {"choices": [choice]}}


def _shown(queue: Queue, index: int, media_dir: str | Path | None) -> Any:
    """The item as Label Studio shows it: an image, a time-series payload or a feature table."""
    def stored(x: np.ndarray) -> str:  # an image: inline, or a file Label Studio serves
        png = image_png(x)
        if media_dir is None:
            return "data:image/png;base64," + base64.b64encode(png).decode()
        folder = Path(media_dir)
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{queue.requests[index].item}.png")
        atomic_write(folder / name, lambda fh: fh.write(png))
        return f"/data/local-files/?d={folder.name}/{name}"

    return modalities.modality(queue.modality).ls_payload(queue.x[index], stored)


def image_png(x: np.ndarray, zoom: int = ZOOM) -> bytes:
    """A C x H x W item as a PNG a person can inspect: min-max scaled per item, 1 or 3 channels
    as grey / RGB, other channel counts as grey panels side by side, upscaled ``zoom`` times.
    """
    x = np.asarray(x, dtype=np.float64)
    x = x[None] if x.ndim == 2 else x
    low, high = np.nanmin(x), np.nanmax(x)
    scaled = np.nan_to_num((x - low) / (high - low) if high > low else np.zeros_like(x))
    pixels = np.round(scaled * 255).astype(np.uint8)
    if len(pixels) == 3:
        pixels = pixels.transpose(1, 2, 0)
    else:
        gap = np.full((pixels.shape[1], 1), 255, np.uint8)
        pixels = np.hstack([p for c in pixels for p in (c, gap)][:-1])
    pixels = pixels.repeat(zoom, axis=0).repeat(zoom, axis=1)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def export(queue_path: str | Path, out_json: str | Path,
           media_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Write a queue's tasks (Label Studio's JSON import format) and ``label_config.xml`` beside."""
    queue = read_queue(queue_path)
    tasks = to_tasks(queue, media_dir)
    n_channels = queue.x.shape[1] if queue.x.ndim == 3 else 1  # a sequence's C x T
    out_json = Path(out_json)
    atomic_write_json(out_json, tasks)
    atomic_write_text(out_json.with_name("label_config.xml"),
                      label_config(queue.modality, queue.class_names, n_channels))
    return tasks


def from_export(export_json: list[dict[str, Any]] | str | Path, queue: Queue,
                costs: Mapping[str, float], annotator: str = "human") -> list[Annotation]:
    """The answers in a Label Studio JSON export of ``queue``'s tasks, one per answered task.

    Uses the latest non-cancelled annotation of each task; unanswered tasks are left out.
    """
    name, tasks = _load_export(export_json)
    missing = {r.action for r in queue.requests} - set(costs)
    if missing:
        raise AnswerError(f"no cost given for actions {sorted(missing)}")
    index = {r.key: i for i, r in enumerate(queue.requests)}
    answers: dict[tuple[str, str], tuple[Any, Annotation]] = {}
    for number, task in enumerate(tasks, start=1):
        if not isinstance(task, dict):
            raise AnswerError(f"{name}: task #{number} is a {type(task).__name__}, expected an "
                              "object (Label Studio's JSON export)")
        where = f"{name}: task {task.get('id', f'#{number}')}"
        data = task.get("data") or {}
        if not isinstance(data, dict):
            raise AnswerError(f"{where}: data is a {type(data).__name__}, expected an object")
        key = (str(data.get("item")), str(data.get("action")))
        if key not in index:
            raise AnswerError(f"{where}: item {key[0]!r} with action {key[1]!r} is not a request "
                              f"of queue {queue.path}; expected a task exported from it")
        if str(data.get("round", queue.round)) != str(queue.round):
            raise AnswerError(f"{where}: a task of round {data['round']}, but queue {queue.path} "
                              f"is round {queue.round}; expected the export of its own project")
        choice = _latest_choice(task, where)
        if choice is None:
            continue
        if key in answers:
            raise AnswerError(f"{where}: answers {key[0]} ({key[1]}) again, as task "
                              f"{answers[key][0]} does; delete one of them in Label Studio")
        answer = _annotation(queue, index[key], choice, where, costs, annotator)
        answers[key] = (task.get("id"), answer)
    return [answer for _, answer in answers.values()]


def _load_export(export_json: list[dict[str, Any]] | str | Path) -> tuple[str, list]:
    if not isinstance(export_json, str | Path):
        return "<export>", export_json
    try:
        tasks = json.loads(Path(export_json).read_text())
    except ValueError as err:
        raise AnswerError(f"{export_json}: not a Label Studio JSON export ({err})") from err
    if not isinstance(tasks, list):
        raise AnswerError(f"{export_json}: expected a list of tasks (Label Studio's JSON export)")
    return str(export_json), tasks


def _latest_choice(task: Mapping[str, Any], where: str) -> str | None:
    """The choice of the task's latest non-cancelled annotation, or None if nobody answered;
    anything that is not Label Studio's shape is refused naming the task.
    """
    annotations = task.get("annotations") or []
    if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
        raise AnswerError(f"{where}: annotations must be a list of objects, got "
                          f"{type(annotations).__name__}")
    done = [a for a in annotations if not a.get("was_cancelled")]
    if not done:
        return None

    def when(a: Mapping[str, Any]) -> tuple[str, int]:
        stamp, number = a.get("updated_at") or a.get("created_at") or "", a.get("id") or 0
        if not isinstance(stamp, str) or not isinstance(number, int):
            raise AnswerError(f"{where}: annotation {a.get('id')!r}: updated_at must be a "
                              f"timestamp string and id an integer, got {stamp!r}, {number!r}")
        return stamp, number

    latest = max(done, key=when)
    results = latest.get("result") or []
    if not isinstance(results, list):
        raise AnswerError(f"{where}: result must be a list, got {type(results).__name__}")
    for result in results:
        if isinstance(result, dict) and result.get("from_name") == CONTROL and result.get(
                "type") == "choices":
            value = result.get("value")
            choices = value.get("choices") if isinstance(value, dict) else None
            if not isinstance(choices, list):
                raise AnswerError(f"{where}: value must be an object with a list of choices, "
                                  f"got {value!r}")
            if len(choices) > 1:
                raise AnswerError(f"{where}: {len(choices)} choices {choices} on a single-choice "
                                  "question; keep one in Label Studio and export again")
            return str(choices[0]) if choices else None
    return None


def _annotation(queue: Queue, index: int, choice: str, where: str,
                costs: Mapping[str, float], annotator: str) -> Annotation:
    """Map one choice to the ledger's outcome, refusing answers the request does not allow."""
    req = queue.requests[index]
    allowed = options(queue, index)
    if choice not in allowed:
        why = " (a real item cannot be rejected)" if choice == REJECT else ""
        raise AnswerError(f"{where}: answer {choice!r} for {req.item} ({req.action}) is not "
                          f"allowed{why}; expected one of {allowed}")
    label, outcome = NO_LABEL, "rejected"
    if choice == KEEP:
        outcome = "kept"
    elif choice != REJECT:
        label = queue.class_names.index(choice)
        outcome = ("labelled" if req.action == "label"
                   else "accepted" if label == req.proposed else "corrected")
    return Annotation(req.item, req.action, label, price(req.action, outcome, costs),
                      queue.round, annotator, outcome, req.proposed,
                      content_digest(queue.x[index]))


def import_answers(export_path: str | Path, queue_path: str | Path, ledger: Ledger,
                   costs: Mapping[str, float], annotator: str = "human"
                   ) -> tuple[int, int, list[str]]:
    """Append the export's answers not yet in ``ledger`` (no double charge) and every answer
    to the queue's answer store.

    Returns (answers added, requests of the queue still unanswered, the items whose answer
    differs from the one the ledger already holds: a person's correction, which the run has
    already used and paid as first given; it is kept in the store, for every later run).
    """
    queue = read_queue(queue_path)
    if ledger.fingerprint != queue.fingerprint:
        raise AnswerError(f"{queue_path} belongs to run {queue.fingerprint[:12]}, but ledger "
                          f"{ledger.path} to run {ledger.fingerprint[:12]}")
    answers = from_export(export_path, queue, costs, annotator)
    known = ledger.lookup()
    new = [a for a in answers if a.key not in known]
    changed = [f"{a.item} ({a.action})" for a in answers if a.key in known
               and (known[a.key].label, known[a.key].outcome) != (a.label, a.outcome)]
    ledger.append(new)
    if queue.store is not None:
        AnswerStore(queue.store).add(answers)
    return len(new), len(queue.requests) - len(answers), changed
