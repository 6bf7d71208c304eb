r"""Prepares TFDS datasets for `get_dataset(..., source="tfds")`.

Needs internet and TensorFlow (`pip install 'jaxlab[prepare]'`); reading them back
later needs neither. Files are written as array_record into `<data_dir>/tfds`.

  python -m jaxlab.data.prepare mnist cifar10 --data_dir=~/jaxlab_data

With the original archives at hand and no internet, pass --manual_dir=DIR holding
them under their download names; TFDS checks them against its own checksums.
"""

import argparse
import sys

from jaxlab.data import files
from jaxlab.data import tfds_source


def prepare(name, data_dir=None, tfds_data_dir=None, manual_dir=None):
  """Downloads and prepares TFDS dataset `name` as array_record; returns its folder."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  folder = tfds_source.tfds_dir(data_dir, tfds_data_dir)
  tfds_name = tfds_source.TFDS_DATASETS.get(name, name)
  builder = tfds.builder(tfds_name, data_dir=str(folder), file_format="array_record")
  config = None
  if manual_dir is not None:
    config = tfds.download.DownloadConfig(manual_dir=str(files.data_dir(manual_dir)))
  builder.download_and_prepare(download_config=config)
  return folder


def main(argv=None):
  parser = argparse.ArgumentParser(
      prog="python -m jaxlab.data.prepare",
      description="Download and prepare TFDS datasets for source='tfds'.")
  parser.add_argument("names", nargs="+",
                      help=f"TFDS datasets, e.g. {', '.join(tfds_source.TFDS_DATASETS)}")
  parser.add_argument("--data_dir", default=None,
                      help="jaxlab data folder (default: $JAXLAB_DATA or ~/jaxlab_data);"
                      " TFDS files go to <data_dir>/tfds")
  parser.add_argument("--tfds_data_dir", default=None,
                      help="write into this TFDS folder instead of <data_dir>/tfds")
  parser.add_argument("--manual_dir", default=None,
                      help="folder with the original archives (no download needed)")
  args = parser.parse_args(argv)
  try:
    import tensorflow  # pylint: disable=g-import-not-at-top,unused-import  # noqa: F401
  except ImportError:
    print("Preparing TFDS datasets needs TensorFlow: pip install 'jaxlab[prepare]'",
          file=sys.stderr)
    return 1
  for name in args.names:
    folder = prepare(name, args.data_dir, args.tfds_data_dir, args.manual_dir)
    print(f"Prepared {name} in {folder}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
