"""The quality gate: validate and clean (validate.py, clean.py), then deduplicate (dedup.py: exact.py,
minhash.py, semantic.py), with diversity figures for the report (diversity.py).

Every dropped item keeps its id, data and meta and gains `meta.rejected` with the stage, the rule and the
reason; a kept item gains `meta.clean` and `meta.dedup`, the marks the review stage uses to find borderline items.
"""
