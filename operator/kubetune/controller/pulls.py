"""Prometheus pulls: what Prometheus has of a trial's metrics that its Trial does not, recorded
in its status (while its study runs, from the ticker, and once more before a verdict, from
`phases`). Its own room, built before `phases` and `intake`, which both use it: a value that is
not a finite number is returned for the caller to fail the trial with (`phases` is the one
writer of a trial's phase)."""

from __future__ import annotations

import logging
from typing import Any

from kubetune.api.study import Study
from kubetune.controller.cache import TrialCache
from kubetune.controller.kube import Kube, Obj
from kubetune.controller.manifests import prometheus_url
from kubetune.controller.settings import OperatorSettings
from kubetune.controller.telemetry import Telemetry
from kubetune.metrics import prometheus
from kubetune.metrics.lines import BadValue
from kubetune.records.trials import merge_reports

log = logging.getLogger("kubetune.operator")


class PrometheusPulls:
    def __init__(
        self, kube: Kube, settings: OperatorSettings, telemetry: Telemetry, trials: TrialCache
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.telemetry = telemetry
        self.trials = trials

    def pull(self, trial: Obj, study: Study) -> Obj | BadValue | None:
        """The Trial with what Prometheus had that it did not (as written; itself when there
        was nothing new), a bad value found, or None when the study has no Prometheus or it
        could not be read (said once per outage). Called under the trial's lock."""
        source, url = study.spec.metrics.prometheus, prometheus_url(study, self.settings)
        if source is None or url is None:
            return None
        name = trial["metadata"]["name"]
        query = prometheus.render_query(source.query, name)
        faults, kind = self.kube.faults, f"Prometheus at {url}"
        try:
            found = prometheus.fetch_reports(url, query, study.spec.primary.metric)
        except OSError as error:  # unreachable: one line for every trial's query
            if faults is None:
                log.warning("Prometheus query for %s failed: %s", name, error)
            else:
                faults.failed(kind, str(error)[:160], "each running trial's query at every pull")
            return None
        except ValueError as error:
            log.warning("Prometheus query for %s failed: %s", name, error)
            return None
        if faults is not None:
            faults.worked(kind)
        bad = next((r for r in found if isinstance(r, BadValue)), None)
        if bad is not None:
            return bad
        current = trial.get("status") or {}
        have = [(r.get("step"), r.get("metrics")) for r in current.get("reports", [])]
        fresh: list[dict[str, Any]] = [
            {"step": r.step, "metrics": dict(r.metrics)}
            for r in found
            if not isinstance(r, BadValue) and (r.step, dict(r.metrics)) not in have
        ]
        if not fresh:
            return trial
        meta = trial["metadata"]
        reports = merge_reports(list(current.get("reports", [])), fresh)
        self.telemetry.reports_accepted.inc(len(fresh))
        return self.trials.seen(
            self.kube.patch_trial_status(meta["namespace"], meta["name"], {"reports": reports})
        )
