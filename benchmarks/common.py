"""Helpers shared by the benchmark scripts under scripts/."""

from __future__ import annotations


def xla_memory(compiled) -> dict:
  """XLA's memory analysis of a compiled function (argument / temporary / output bytes)."""
  try:
    m = compiled.memory_analysis()
    return {"argument_bytes": int(m.argument_size_in_bytes),
            "temp_bytes": int(m.temp_size_in_bytes),
            "output_bytes": int(m.output_size_in_bytes)}
  except Exception as e:  # not every backend reports it
    return {"error": repr(e)}
