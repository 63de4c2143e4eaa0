"""``decide --snapshot`` on a sample of a batch run gives the batch's outcome and reasons.

    .venv/bin/python benchmarks/check_snapshot_sample.py --input .bench/users_1000000.parquet \
        --decisions .bench/decisions.parquet --snapshot .bench/snapshot.parquet --sample 50000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from creditgate.batch.whitelist import apply_cutoffs
from creditgate.decider import Decider
from creditgate.population.schema import PROFILE_SCHEMA
from creditgate.profile import validate_profile
from creditgate.snapshot import read_meta


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--decisions", type=Path, required=True)
    parser.add_argument("--snapshot", type=Path, required=True)
    parser.add_argument("--sample", type=int, default=50_000)
    args = parser.parse_args()
    meta = read_meta(args.snapshot)
    base = Decider()
    decider = Decider(
        apply_cutoffs(base.policy, meta.cutoffs, by_city=meta.city_cutoffs), base.regions
    )
    users = pq.read_table(args.input, columns=PROFILE_SCHEMA.names)
    step = max(1, users.num_rows // args.sample)
    sample = users.take(list(range(0, users.num_rows, step))[: args.sample])
    decided = pq.read_table(args.decisions, columns=["user_id", "outcome", "reason_codes"])
    wanted = pc.is_in(decided["user_id"], value_set=sample["user_id"])
    batch = {r["user_id"]: r for r in decided.filter(wanted).to_pylist()}
    differ = 0
    codes: dict[str, int] = {}
    for row in sample.to_pylist():
        valid = validate_profile(row, meta.as_of, decider.policy, decider.regions)
        d = decider.decide(valid, meta.as_of)
        b = batch[row["user_id"]]
        if (d.outcome, list(d.reason_codes)) != (b["outcome"], b["reason_codes"]):
            differ += 1
        for c in d.reason_codes[:1]:
            codes[c] = codes.get(c, 0) + 1
    print(f"sample {sample.num_rows:,}: {differ} differ; first reasons {codes}")
    raise SystemExit(1 if differ else 0)


if __name__ == "__main__":
    main()
