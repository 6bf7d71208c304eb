"""Exceptions raised by `jaxlab.data` when data files are missing or damaged."""


class DataError(RuntimeError):
  """Base class of every data-layer error that the user can fix by obtaining data."""


class MissingDataError(DataError, FileNotFoundError):
  """A data file (or a prepared TFDS dataset) is not where it is expected."""


class CorruptDataError(DataError):
  """A data file exists but its content is not the expected one."""
