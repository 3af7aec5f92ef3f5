"""Validation errors survive pickling: worker processes (the benchmark's pool) send them back."""

from __future__ import annotations

import pickle

from kubetune.api.errors import FieldError, InvalidStudyError


def test_invalid_study_error_round_trips_through_pickle() -> None:
    error = InvalidStudyError(["spec.parameters[0].min: must be > 0", "spec.budget: required"])
    copy = pickle.loads(pickle.dumps(error))
    assert copy.problems == error.problems
    assert str(copy) == str(error)


def test_field_error_round_trips_through_pickle() -> None:
    copy = pickle.loads(pickle.dumps(FieldError("min", "must be below max")))
    assert (copy.field, copy.message, str(copy)) == (
        "min",
        "must be below max",
        "min: must be below max",
    )
