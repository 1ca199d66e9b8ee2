"""``--subject auto|person|object`` for stills: which matter cuts the picture out.

* ``person``: the person path (the configured person model).
* ``object``: the configured object model (``--model u2net``...), else the first installed one of
  :data:`PREFERRED`, else the backdrop keyer (:mod:`livematte.stages.backdrop`).
* ``auto`` (default): ``person`` when the person path keeps someone (its selfie model's
  person-blob rule, :func:`livematte.subject.blobs.person_blobs`: a blob with a confident core),
  else ``object``.

When the keyer is the only way left and it is unsure (confidence below ``KEYER_SURE``), the
image fails with :class:`NothingFound`: one line saying so and what to install; no blank picture
is written for it (the command's exit code is 1, a batch goes on). ``--subject person`` (or
``--raw``) writes the person path's matte as it is, empty or not.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..models import registry
from ..subject.choice import parse_subject
from ..types import LivematteError

#: object models tried by ``auto`` / ``object`` when ``--model`` names none, best first
PREFERRED = ("birefnet-general", "isnet-general-use", "birefnet-general-lite", "u2net", "silueta", "u2netp")
KEYER_SURE = 0.5
MIN_AREA = 0.002  # the share of the picture a person must cover to count as found
STILL_KINDS = ("auto", "person", "object")


class NothingFound(LivematteError):
    """No subject to cut out: no person, no object model installed, and the backdrop keyer unsure.
    Nothing is written for the image; the image command exits with code 1 (not 2: nothing was wrong
    with the command), the server answers 422."""


@dataclass
class Cut:
    """One picture's matte: ``alpha`` float32 ``(H, W)``, ``kind`` (person / object), ``model``
    (the backend, or ``backdrop-keyer``), ``confidence`` (the keyer's; None where it did not run
    or a model decided)."""

    alpha: np.ndarray
    kind: str
    model: str
    confidence: Optional[float] = None


def still_choice(text: Optional[str]) -> str:
    """``auto``, ``person`` or ``object`` from ``--subject`` / ``[subject] choice``; one-line error otherwise."""
    kind = parse_subject(text or "auto").kind
    if kind not in STILL_KINDS:
        raise LivematteError(f"--subject {text!r}: for still images choose auto, person or object")
    return kind


def installed_object_model() -> Optional[str]:
    """The first of :data:`PREFERRED` whose file is found here (and onnxruntime imports), or None."""
    for name in PREFERRED:
        if registry.info(name).available:
            return name
    return None


class SubjectCutter:
    """Cuts one still out with the matter its subject calls for (see the module docstring); made
    by the image command when its model is a person model (an object model there cuts directly).

    Args:
        choice: ``auto``, ``person`` or ``object``.
        device: where an object model built here runs.
    """

    def __init__(self, choice: str, device: str = "auto"):
        self.choice, self.device = still_choice(choice), device
        self._objects = self._keyer = None

    @staticmethod
    def has_subject(alpha: np.ndarray) -> bool:
        """Whether the person path kept someone: at least :data:`MIN_AREA` of the picture at alpha >= 0.5
        (that path already drops blobs without a confident core and, where it has landed, people the
        presence detector does not confirm)."""
        return float(np.count_nonzero(alpha >= 0.5)) >= MIN_AREA * alpha.size

    def object_model(self):
        """The installed object backend (the first of :data:`PREFERRED`, built once), or None."""
        if self._objects is None:
            name = installed_object_model()
            if name is None:
                return None
            self._objects = registry.create(name, device=self.device)
        return self._objects

    def __call__(self, image: np.ndarray, person: Callable[[np.ndarray], np.ndarray]) -> Cut:
        """RGB uint8 ``(H, W, 3)`` -> :class:`Cut` (``person``: ``image -> alpha`` of the person path);
        :class:`NothingFound` when only an unsure keyer is left."""
        if self.choice != "object":
            alpha = person(image)  # (H, W)
            if self.choice == "person" or self.has_subject(alpha):
                return Cut(alpha, "person", "person path")
        model = self.object_model()
        if model is not None:
            return Cut(model.predict(image), "object", model.name)
        from ..stages.backdrop import BackdropKeyer

        if self._keyer is None:
            self._keyer = BackdropKeyer()
        key = self._keyer(image)
        if key.confidence >= KEYER_SURE:
            return Cut(key.alpha, "object", "backdrop-keyer", key.confidence)
        raise NothingFound(nothing_found_line(self.choice, key.confidence))


def nothing_found_line(choice: str, confidence: float) -> str:
    """The one line of :class:`NothingFound`: what was looked for, and what to install."""
    person = "no person found, and " if choice == "auto" else ""
    return (f"nothing to cut out: {person}the picture is not an object on a plain backdrop (backdrop keyer confidence "
            f"{confidence:.2f}); to cut out other objects install a salient-object model: onnxruntime "
            "(pip install 'livematte[objects]') and one of rembg's files, e.g. u2net.onnx in ~/.u2net "
            "(`livematte models` lists them)" + ("; --subject person writes the person matte as it is"
                                                  if choice == "auto" else ""))
