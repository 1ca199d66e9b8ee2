"""Output sinks: each consumes RGB/RGBA pictures and inherits :class:`livematte.sinks.base.Sink`
(the live ones :class:`livematte.sinks.base.LiveSink`); see :mod:`livematte.sinks.base` for the contract."""
