"""Installs mouseflax: `pip install -e .` (library + entry points), `.[test]`, `.[bench]`,
`.[beam]`."""

import setuptools

INSTALL_REQUIRES = [
    "absl-py>=2.1",
    "array-record>=0.8",
    "etils[epath]>=1.7",
    # TFDS imports importlib_resources without declaring it (a known TFDS 4.9 packaging bug).
    "importlib_resources>=6",
    "jax>=0.10,<0.11",
    "flax>=0.12,<0.13",
    "matplotlib>=3.8",
    "ml-collections>=1.0",
    "numpy>=1.26",
    "opencv-python-headless>=4.9",
    "optax>=0.2.4",
    "orbax-checkpoint>=0.12,<0.13",
    "scikit-learn>=1.4",
    "scipy>=1.11",
    # TensorBoard event files without TensorFlow (mouseflax.metric_writers).
    "tensorboardX>=2.6",
    "tensorflow-datasets>=4.9.10,<4.10",
]

EXTRAS_REQUIRE = {
    # Tests, and the formatter and linter CI runs before them (pinned: their output is the check).
    "test": ["pytest>=8", "pyink==26.5.1", "ruff==0.17.5"],
    # PyTorch reference implementations for the throughput benchmark (CPU build on these machines).
    "bench": ["torch==2.13.0"],
    # Building records and scoring on Apache Beam runners (mouseflax.beam_runner).
    "beam": ["apache-beam>=2.60"],
}

setuptools.setup(
    name="mouseflax",
    version="0.1.0",
    description="Dual-stream autoencoders for unsupervised anomaly detection in animal videos "
    "(JAX/Flax).",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    # `configs` too: experiment configs import `configs.default`, also when loaded by path from
    # another working directory.
    packages=setuptools.find_packages(
        include=["mouseflax*", "data_builders*", "benchmarks*", "configs*"]
    ),
    include_package_data=True,
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
)
