"""The run configuration now lives in :mod:`bench.config` (a low layer: results and merge read it too).

Re-exported here for the callers that import it from ``bench.tasks.config``.
"""

from bench.config import RunConfig, parse_ids, parse_shard, record_name, resolve_shard, run_id, select_shard

__all__ = ["RunConfig", "parse_ids", "parse_shard", "record_name", "resolve_shard", "run_id", "select_shard"]
