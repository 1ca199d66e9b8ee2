"""Host <-> device copies: one upload per frame (uint8), one download per output picture.

On CUDA, both directions go through **pinned** host buffers that are allocated once and reused
(a ring of ``slots``), with ``non_blocking`` copies ordered by CUDA events:

* :meth:`Transfer.upload` copies the numpy frame into a pinned slot and starts the async copy to
  the device; the slot is reused only after that copy's event has completed.
* :meth:`Transfer.download` starts an async copy into a pinned slot and waits for it; the returned
  numpy array is a **view of that slot**, valid until ``slots`` later downloads of the same shape
  (``copy=True`` returns an owned array instead). The file pipeline keeps at most its queue depth
  plus two pictures alive, so the ring must be deeper than that (8 by default, queues hold 4).

On the CPU there is nothing to copy: upload wraps the array (zero-copy), download returns the
tensor's memory. :meth:`Transfer.cached` returns the last upload when given the same numpy object
(the matter uploads a frame, the effect then finds it there: one upload per frame).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np
import torch


class _Ring:
    """``slots`` pinned host tensors of one shape/dtype, each guarded by the event of its last copy."""

    def __init__(self, shape: Tuple[int, ...], dtype: torch.dtype, slots: int):
        self.buffers = [torch.empty(shape, dtype=dtype, pin_memory=True) for _ in range(slots)]
        self.events: List[Optional[torch.cuda.Event]] = [None] * slots
        self.next = 0

    def take(self) -> Tuple[int, torch.Tensor]:
        i = self.next
        self.next = (i + 1) % len(self.buffers)
        if self.events[i] is not None:
            self.events[i].synchronize()  # the copy that last used this slot is done
        return i, self.buffers[i]


class Transfer:
    """Uploads frames to ``device`` and downloads results, reusing pinned buffers on CUDA.

    Args:
        device: the torch device of the frame path.
        slots: pinned buffers per shape and direction (see the module docstring).
    """

    def __init__(self, device: torch.device, slots: int = 8):
        self.device, self.slots = torch.device(device), slots
        self.cuda = self.device.type == "cuda"
        self._rings: Dict[Tuple, _Ring] = {}
        self._last: Optional[Tuple[np.ndarray, torch.Tensor]] = None  # (array, its device tensor)
        self.uploads = 0
        self.downloads = 0

    def _ring(self, kind: str, shape, dtype) -> _Ring:
        key = (kind, tuple(shape), dtype)
        if key not in self._rings:
            self._rings[key] = _Ring(tuple(shape), dtype, self.slots)
        return self._rings[key]

    def upload(self, image) -> torch.Tensor:
        """numpy uint8 ``(H, W, C)`` (or a tensor) -> uint8 ``[H, W, C]`` on the device.

        Always copies (a camera may refill the same array); :meth:`cached` then finds it.
        """
        if isinstance(image, torch.Tensor):
            return image.to(self.device, non_blocking=True)
        array = np.ascontiguousarray(image)
        if not self.cuda:
            tensor = torch.from_numpy(array)
        else:
            ring = self._ring("up", array.shape, torch.from_numpy(array[:0]).dtype)
            i, host = ring.take()
            host.numpy()[...] = array
            tensor = host.to(self.device, non_blocking=True)
            ev = torch.cuda.Event()
            ev.record()
            ring.events[i] = ev
        self.uploads += 1
        self._last = (image, tensor)
        return tensor

    def cached(self, image) -> torch.Tensor:
        """The device copy of ``image`` when it is the very object uploaded last, else a new upload."""
        if isinstance(image, torch.Tensor):
            return image.to(self.device, non_blocking=True)
        if self._last is not None and self._last[0] is image:
            return self._last[1]
        return self.upload(image)

    def download(self, tensor: torch.Tensor, *, copy: bool = False) -> np.ndarray:
        """A device tensor -> numpy (one copy into a pinned slot on CUDA; see the module docstring)."""
        self.downloads += 1
        if not tensor.is_cuda:
            out = tensor.detach().contiguous().numpy()
            return out.copy() if copy else out
        ring = self._ring("down", tensor.shape, tensor.dtype)
        i, host = ring.take()
        host.copy_(tensor, non_blocking=True)
        ev = torch.cuda.Event()
        ev.record()
        ring.events[i] = ev
        ev.synchronize()
        out = host.numpy()
        return out.copy() if copy else out

    def forget(self) -> None:
        """Drop the one-entry upload cache (a new source)."""
        self._last = None
