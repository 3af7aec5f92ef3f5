"""A failing operator test prints the operator's log: the hook that adds it is checked by
running a failing test under it (pytester), not trusted to be registered."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")


def test_a_failing_test_shows_the_operators_log(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        f"""
import importlib.util, sys
import pytest

spec = importlib.util.spec_from_file_location("cluster_conftest", {str(CONFTEST)!r})
# the real conftest, loaded as a plain module (its relative imports are only for typing)
module = importlib.util.module_from_spec(spec)
sys.modules["cluster_conftest"] = module
spec.loader.exec_module(module)
pytest_runtest_makereport = module.pytest_runtest_makereport


class FakeOperator:
    def log_tail(self, lines):
        return "operator said: the last thing before the failure"


@pytest.fixture
def operator():
    return FakeOperator()
"""
    )
    pytester.makepyfile(
        """
def test_fails(operator):
    assert False, "the study never finished"

def test_passes(operator):
    pass
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        ["*operator log (last 200 lines)*", "*operator said: the last thing before the failure*"]
    )
    assert result.stdout.str().count("operator said") == 1  # only for the failing test
