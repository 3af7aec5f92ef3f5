"""Study and Trial objects, read once into typed records and written from typed status models.

Every reader of a study shares these: the operator (its caches and its study loop), the CLI,
the dashboard and its exports. A Trial object becomes the engine's `TrialRecord`
(`trials.trial_record`), a Study's Trials its `History`; what the operator writes is built
from, and checked against, the same pydantic models the CRDs' status schemas are rendered
from (`kubetune.api`), so a misspelt or mistyped status field fails here, in a unit test,
instead of being pruned in silence by the API server. Whether a trial is feasible, which is
the best and which are on the front is the engine's answer (`judged`), never re-derived.
Pure: no I/O.
"""
