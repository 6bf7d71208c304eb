"""jaxlab: functional JAX/Flax reimplementations of published ML methods.

Core packages: `jaxlab.train` (SGD runs), `jaxlab.data` (datasets), `jaxlab.nn` (shared
models), `jaxlab.ops` (shared pure functions), `jaxlab.metrics`. One folder per paper lives
under `jaxlab.projects`.
"""

__version__ = "0.1.0"
