"""``clir-calib run``: the whole study from one config, with resumable, hash-keyed stages."""
