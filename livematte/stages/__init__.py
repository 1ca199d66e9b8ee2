"""The per-frame stages, each written once against the array layer (:mod:`livematte.engine`).

Every stage takes the engine's ``ops`` and works on its arrays (numpy or torch), so the numpy and
the torch engine run the same arithmetic in the same order:

============================  ==============================================================
:mod:`.pyramid`               area pyramid of the frame; model inputs cut from it
:mod:`.refine`                fast guided filter: model grid -> full-resolution alpha
:mod:`.tiles`                 the crop's tiles pasted with soft seams; the pose model fused in
:mod:`.attach`                regions that move with the person added back
:mod:`.temporal`              motion-aware smoothing across frames; scene cuts
:mod:`.solid`                 alpha raised to 1 inside a tracked person's silhouette
:mod:`.mask`                  the user's threshold / grow / feather
============================  ==============================================================
"""
