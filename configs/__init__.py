"""Experiment configurations: one `get_config()` per file, loaded by path with
`--config=configs/<experiment>.py`. `default.py` declares every key; the experiments import it and
override a few fields (the flax examples' convention)."""
