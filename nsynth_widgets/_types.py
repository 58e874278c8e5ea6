"""Type aliases of the public API's annotations (read by type checkers; nothing imports this at run time)."""

import os
from collections.abc import Callable
from typing import BinaryIO, Union

import numpy as np

#: A file system path.
PathLike = Union[str, "os.PathLike[str]"]
#: Where audio can come from: a path, the file's bytes, or an open binary file.
AudioSource = Union[PathLike, bytes, BinaryIO]
#: A seed, or a generator to draw from.
Seed = Union[int, np.random.Generator, None]
#: ``progress(done, total, partial_audio)``.
Progress = Callable[[int, int, np.ndarray], object]
