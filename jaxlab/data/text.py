"""Character-level text: tiny-shakespeare (Karpathy's char-rnn corpus)."""

import dataclasses
import functools
import pathlib

import numpy as np

from jaxlab.data import errors
from jaxlab.data import files

SHAKESPEARE_FILE = "tinyshakespeare/input.txt"
SPLITS = ("train", "val", "all")
TRAIN_FRACTION = 0.9  # nanoGPT's shakespeare_char: first 90% train, last 10% val.


@dataclasses.dataclass(frozen=True, eq=False)
class TextData:
  """A character-level token stream and its vocabulary.

  Attributes:
    tokens: `[L]` token ids (uint8 when the vocabulary fits, else int32); read-only
      when loaded from a file.
    vocab: the vocabulary as one string; token id i is character `vocab[i]`. The
      characters are sorted, so ids follow code-point order.
    name, split: registry name and split.
  """
  tokens: np.ndarray
  vocab: str
  name: str = "tinyshakespeare"
  split: str = "train"

  def __len__(self):
    return int(self.tokens.shape[0])

  @property
  def vocab_size(self):
    return len(self.vocab)

  def encode(self, text):
    """Returns the int32 token ids of `text`; raises ValueError on unknown chars."""
    return encode(text, self.vocab)

  def decode(self, ids):
    """Returns the string of the token ids `ids` (any int array or sequence)."""
    return decode(ids, self.vocab)


def _codepoints(s):
  return np.frombuffer(s.encode("utf-32-le"), np.uint32)


def encode(text, vocab):
  """Maps each character of `text` to its index in the sorted string `vocab`."""
  table = _codepoints(vocab)
  cps = _codepoints(text)
  ids = np.searchsorted(table, cps)
  bad = (ids >= len(table)) | (table[np.minimum(ids, len(table) - 1)] != cps)
  if bad.any():
    unknown = sorted({chr(c) for c in cps[bad]})
    raise ValueError(f"Characters not in the vocabulary: {unknown!r}")
  return ids.astype(np.int32)


def decode(ids, vocab):
  """Inverse of `encode`."""
  chars = np.array(list(vocab))
  return "".join(chars[np.asarray(ids, np.int64)].tolist())


def char_vocab(text):
  """Sorted string of the distinct characters of `text`."""
  return "".join(sorted(set(text)))


def token_dtype(vocab_size):
  return np.uint8 if vocab_size <= 256 else np.int32


@functools.lru_cache(maxsize=2)
def _read_text(key):
  path = key[0]
  try:
    text = pathlib.Path(path).read_text(encoding="utf-8")
  except UnicodeDecodeError as e:
    raise errors.CorruptDataError(f"{path}: not valid UTF-8 text ({e}).") from e
  vocab = char_vocab(text)
  tokens = encode(text, vocab).astype(token_dtype(len(vocab)))
  return files.readonly(tokens), vocab


def load_tinyshakespeare(split="train", *, data_dir=None, verify=True):
  """Reads tiny-shakespeare as characters (1,115,394 chars, 65-char vocabulary).

  Args:
    split: "train" (first 90%), "val" (last 10%) or "all". The vocabulary is always
      that of the whole text, so ids agree across splits.
    data_dir: data folder (default: `jaxlab.data.data_dir()`).
    verify: check the file's sha256 first.

  Returns:
    `TextData`.
  """
  if split not in SPLITS:
    raise ValueError(
        f"Unknown split {split!r} for tinyshakespeare; valid: {list(SPLITS)}")
  path = files.locate(SHAKESPEARE_FILE, data_dir, verify)
  tokens, vocab = _read_text(files.file_key(path))
  cut = int(len(tokens) * TRAIN_FRACTION)
  part = {"train": tokens[:cut], "val": tokens[cut:], "all": tokens}[split]
  return TextData(tokens=part, vocab=vocab, name="tinyshakespeare", split=split)
