"""The shipped presets, ``NAME.toml`` (package data; read by :func:`livematte.config.load_config`)."""
