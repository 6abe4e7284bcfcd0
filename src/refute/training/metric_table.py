"""A run's logged metrics as tidy columns (seed, step, metric, value): what metrics.parquet holds.

Kept as numpy arrays and written with pyarrow, so a training job never imports pandas (a quarter to a third
of a second of every job's start-up); `frame()` gives the DataFrame to whoever wants one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("seed", "step", "metric", "value")


@dataclass(frozen=True)
class MetricTable:
    seed: np.ndarray  # int64
    step: np.ndarray  # int64
    metric: np.ndarray  # str
    value: np.ndarray  # float64

    @classmethod
    def empty(cls) -> MetricTable:
        return cls(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, str), np.empty(0, np.float64))

    @classmethod
    def concat(cls, parts: list[MetricTable]) -> MetricTable:
        """The rows of every part, in the one order a run's table has: by metric, seed, step."""
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, c) for p in parts]) for c in COLUMNS)).sorted()

    def sorted(self) -> MetricTable:
        order = np.lexsort((self.step, self.seed, self.metric))  # last key first; stable
        return MetricTable(*(getattr(self, c)[order] for c in COLUMNS))

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame({c: getattr(self, c) for c in COLUMNS})

    def write(self, path: str | Path) -> None:
        """metrics.parquet, atomically (refute.io.atomic_path)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from refute.io import atomic_path

        table = pa.Table.from_arrays([_fixed(self.seed, pa.int64()), _fixed(self.step, pa.int64()),
                                      _strings(self.metric), _fixed(self.value, pa.float64())], names=list(COLUMNS))
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)

    @classmethod
    def read(cls, path: str | Path) -> MetricTable:
        import pyarrow.parquet as pq

        t = pq.read_table(path, columns=list(COLUMNS))
        return cls(t["seed"].to_numpy().astype(np.int64), t["step"].to_numpy().astype(np.int64),
                   np.asarray(t["metric"].to_pylist(), dtype=str), t["value"].to_numpy().astype(np.float64))


# Arrow arrays made from their buffers: pa.array() imports pandas (to ask whether its input is a pandas object).
def _fixed(values: np.ndarray, kind):
    import pyarrow as pa

    data = np.ascontiguousarray(values, dtype=kind.to_pandas_dtype())
    return pa.Array.from_buffers(kind, len(data), [None, pa.py_buffer(data)])


def _strings(values: np.ndarray):
    import pyarrow as pa

    encoded = [str(v).encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)))
    return pa.Array.from_buffers(pa.string(), len(encoded), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))])
