"""``livematte batch``: many inputs on Ray, long videos split at keyframes and joined without re-encoding.

:mod:`.plan` (inputs, outputs, segments), :mod:`.segments` (warm-up window, join), :mod:`.worker`
(one worker's frame path and tasks), :mod:`.runner` (Ray actors, retries, progress), :mod:`.report`.
Ray is optional (``pip install 'livematte[cluster]'``); only :mod:`.runner` needs it, when it runs.
"""
