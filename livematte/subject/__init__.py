"""Who the subject is: host-side decisions on the full-frame model grid, shared by both engines.

:class:`~.planner.SubjectPlanner` is the one public place that, per frame, takes the full-frame
probability (a small host array) and decides: which blobs are people (:mod:`.blobs`), the crop the
tracker carries (:mod:`.tracker`), whether the subject is a whole body, the tiles and the pose
square (:mod:`.geometry`), and whether the partner model runs next frame. Objects that move with
the person are decided here too (:mod:`.attached`), and whether anyone is in the picture at all
(:mod:`.presence`, from the bundled person detector), and who each person is: tracked people with
stable ids and the ``--subject`` rule (:mod:`.people`).
"""
