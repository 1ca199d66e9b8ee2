"""Output sinks: each consumes RGB/RGBA pictures (see ``livematte.types.Sink``)."""
