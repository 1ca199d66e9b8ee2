"""The batch report: per input its status, frames, seconds, fps, workers and errors."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional


@dataclass
class InputReport:
    """What happened to one input; ``status`` is ``done``, ``skipped`` or ``failed``."""

    input: str
    output: str
    status: str = "pending"
    frames: int = 0
    seconds: float = 0.0
    segments: int = 1
    workers: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["fps"] = round(self.fps, 2)
        d["seconds"] = round(self.seconds, 3)
        return d


class BatchReport:
    """Every input's :class:`InputReport`, in command-line order, and the batch's wall time."""

    def __init__(self) -> None:
        self.inputs: Dict[str, InputReport] = {}
        self.seconds = 0.0

    def add(self, input: str, output: str, **values) -> InputReport:
        rep = InputReport(input=input, output=output, **values)
        self.inputs[output] = rep
        return rep

    def count(self, status: str) -> int:
        return sum(1 for r in self.inputs.values() if r.status == status)

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.inputs.values() if r.status == "done")

    def failures(self) -> List[InputReport]:
        return [r for r in self.inputs.values() if r.status == "failed"]

    def summary(self) -> str:
        """One line: how many done, skipped, failed, frames and throughput."""
        fps = self.frames / self.seconds if self.seconds > 0 else 0.0
        return (f"batch: {self.count('done')} done, {self.count('skipped')} skipped, {self.count('failed')} failed; "
                f"{self.frames} frames in {self.seconds:.1f} s ({fps:.1f} fps)")

    def as_dict(self, extra: Optional[dict] = None) -> dict:
        data = {"summary": {"done": self.count("done"), "skipped": self.count("skipped"),
                            "failed": self.count("failed"), "frames": self.frames, "seconds": round(self.seconds, 3)},
                "inputs": [r.as_dict() for r in self.inputs.values()]}
        if extra:
            data["summary"].update(extra)
        return data
