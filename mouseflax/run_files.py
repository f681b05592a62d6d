"""The names of the JSON files a training run writes into its workdir (ARCHITECTURE.md, "Workdir").

`mouseflax.train` writes them; `mouseflax.score` and `mouseflax.report` read them back. The other
files of a run are named by the module that writes them (`checkpointing.CHECKPOINT_DIR`,
`metric_writers.METRICS_FILE`, `evaluate.SCORES_DIR`, ...).
"""

CONFIG_FILE = "config.json"  # The run's config, as JSON.
PREPROCESS_FILE = (
    "preprocess.json"  # The records' PreprocessConfig: score preprocesses the same way.
)
RESULTS_FILE = "results.json"  # Metrics and run facts (ARCHITECTURE.md, evaluate and train).
THRESHOLD_FILE = "threshold.json"  # The anomaly threshold calibrated on normal validation frames.
