"""TFDS builder package (see the *_dataset_builder.py module)."""
