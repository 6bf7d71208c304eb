"""MaxQuant proteinGroups tables: the proteusLabelFree yeast experiment (14 samples).

Parsed with the `csv` module (no pandas): MaxQuant writes plain tab-separated text.
"""

import csv
import dataclasses
import functools
import gzip
import io
import pathlib

import numpy as np

from jaxlab.data import errors
from jaxlab.data import files

PROTEUS_DIR = "proteomics/proteusLabelFree"
LFQ_PREFIX = "LFQ intensity "


@dataclasses.dataclass(frozen=True, eq=False)
class ProteinGroups:
  """A MaxQuant proteinGroups table with its LFQ intensity matrix.

  Attributes:
    columns: column names in file order.
    table: column name -> object array `[n_proteins]` of the raw strings.
    protein_ids: the "Protein IDs" column.
    lfq: float64 `[n_proteins, n_samples]`, "LFQ intensity <sample>" in the order of
      `samples` (0 means not quantified, as MaxQuant writes it).
    samples: sample (experiment) names, in metadata order.
    conditions: condition of each sample.
    reverse, contaminant, only_by_site: bool `[n_proteins]` MaxQuant "+" flags
      ("Reverse", "Potential contaminant", "Only identified by site").
    name, split: registry name and split ("all").
  """
  columns: tuple[str, ...]
  table: dict[str, np.ndarray]
  protein_ids: np.ndarray
  lfq: np.ndarray
  samples: tuple[str, ...]
  conditions: tuple[str, ...]
  reverse: np.ndarray
  contaminant: np.ndarray
  only_by_site: np.ndarray
  name: str = "proteus_lfq"
  split: str = "all"

  def __len__(self):
    return int(self.lfq.shape[0])

  def column(self, name):
    """The raw strings of column `name`."""
    if name not in self.table:
      raise KeyError(f"No column {name!r}; columns are: {list(self.columns)}")
    return self.table[name]

  def numeric(self, name):
    """Column `name` as float64; empty cells become NaN."""
    col = self.column(name)
    return np.array([float(v) if v else np.nan for v in col], np.float64)

  def __getitem__(self, name):
    return self.column(name)


def _read_tsv(text, path):
  rows = list(csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))
  rows = [r for r in rows if r]
  if not rows:
    raise errors.CorruptDataError(f"{path}: empty table; obtain it again.")
  header, body = rows[0], rows[1:]
  bad = [i + 2 for i, r in enumerate(body) if len(r) != len(header)]
  if bad:
    raise errors.CorruptDataError(
        f"{path}: lines {bad[:5]} do not have {len(header)} tab-separated fields; "
        "obtain the file again.")
  return header, body


@functools.lru_cache(maxsize=2)
def _read_proteus(table_key, meta_key):
  table_path, meta_path = table_key[0], meta_key[0]
  try:
    text = gzip.decompress(pathlib.Path(table_path).read_bytes()).decode("utf-8")
  except (OSError, EOFError, UnicodeDecodeError) as e:
    raise errors.CorruptDataError(f"{table_path}: cannot decompress/decode ({e}).") from e
  header, body = _read_tsv(text, table_path)
  meta_header, meta_rows = _read_tsv(
      pathlib.Path(meta_path).read_text(encoding="utf-8"), meta_path)
  meta = {k: [r[i] for r in meta_rows] for i, k in enumerate(meta_header)}
  for k in ("experiment", "condition"):
    if k not in meta:
      raise errors.CorruptDataError(f"{meta_path}: no '{k}' column.")
  columns = {name: files.readonly(np.array(col, dtype=object))
             for name, col in zip(header, zip(*body))}
  missing = [s for s in meta["experiment"] if LFQ_PREFIX + s not in columns]
  if missing:
    raise errors.CorruptDataError(
        f"{table_path}: no '{LFQ_PREFIX}<sample>' column for samples {missing} of "
        f"{meta_path}.")
  lfq = np.stack([np.array([float(v) if v else np.nan for v in columns[LFQ_PREFIX + s]])
                  for s in meta["experiment"]], axis=1)
  flag = lambda name: files.readonly(columns[name] == "+")
  return dict(
      columns=tuple(header), table=columns, protein_ids=columns["Protein IDs"],
      lfq=files.readonly(lfq), samples=tuple(meta["experiment"]),
      conditions=tuple(meta["condition"]), reverse=flag("Reverse"),
      contaminant=flag("Potential contaminant"),
      only_by_site=flag("Only identified by site"))


def load_proteus_lfq(split="all", *, data_dir=None, verify=True):
  """Reads the proteusLabelFree proteinGroups table (3883 groups x 161 columns)."""
  if split != "all":
    raise ValueError(f"Unknown split {split!r} for proteus_lfq; valid: ['all']")
  table_path = files.locate(f"{PROTEUS_DIR}/proteinGroups.txt.gz", data_dir, verify)
  meta_path = files.locate(f"{PROTEUS_DIR}/metadata.txt", data_dir, verify)
  fields = _read_proteus(files.file_key(table_path), files.file_key(meta_path))
  # A fresh dict per call: the cached arrays are shared, the mapping is not.
  return ProteinGroups(**{**fields, "table": dict(fields["table"])})
