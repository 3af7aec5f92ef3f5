"""How `bayesian` maximises its acquisition: over the whole space, or in a box around a
centre, by a random cloud, then gradient ascent with exact gradients and a sweep of the
discrete inputs. A random cloud alone finds the optimum's basin but not its bottom.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from kubetune.engine.encoding import Key
from kubetune.engine.samplers.bayesian.acquisition import Acquisition
from kubetune.engine.samplers.bayesian.model_inputs import ModelInputs

RANDOM_CANDIDATES = 2048
LOCAL_STARTS = 8
LOCAL_SIDE = 0.2  # the box around the best trial that a batch's later picks come from (unit cube)


class AcquisitionSearch:
    def __init__(self, inputs: ModelInputs) -> None:
        self.inputs = inputs

    def maximise(
        self,
        acquisition: Acquisition,
        top: np.ndarray,
        used: set[Key],
        rng: np.random.Generator,
    ) -> np.ndarray:
        candidates = self.inputs(rng.random((RANDOM_CANDIDATES, self.inputs.space.size)))
        scores, _ = acquisition(candidates)
        starts = [candidates[i] for i in distinct_top(candidates, scores, LOCAL_STARTS)]
        starts += list(top)
        refined = np.array([self.refine(acquisition, start) for start in starts])
        refined_scores, _ = acquisition(refined)
        pool = np.vstack([refined, candidates])
        pool_scores = np.concatenate([refined_scores, scores])
        for index in np.argsort(-pool_scores, kind="stable"):
            if not self.taken(pool[index], used, acquisition):
                return np.asarray(pool[index])
        return np.asarray(pool[int(np.argmax(pool_scores))])

    def maximise_near(
        self,
        acquisition: Acquisition,
        centre: np.ndarray,
        used: set[Key],
        rng: np.random.Generator,
    ) -> np.ndarray:
        """The acquisition's best point in a box of side `LOCAL_SIDE` around `centre` (unit cube).

        For three trials in four. Expected improvement over the whole space keeps finding
        somewhere uncertain enough to try, and at 40-60 trials that costs the refinement
        around the incumbent that decides the final regret; a batch suffered most, its later
        picks sent exploring once the believer had flattened the first pick's neighbourhood.
        Geometric-mean regret after 40 / 60 trials, whole space every time against this:
        - one at a time (50 seeds): Branin 7.1e-5 / 1.0e-5 against 1.4e-5 / 8.0e-6,
          Hartmann-6 0.044 / 0.0026 against 0.013 / 0.00099, the mixed space 0.0012 / 2.1e-4
          against 5.4e-4 / 1.7e-4, Hartmann-6 in 10-D 0.15 / 0.019 against 0.068 / 0.0044;
        - four at once (30 and 50 seeds): Branin 1.6e-4 / 1.4e-5 against 7.1e-6 / 1.2e-6,
          Hartmann-6 0.099 / 0.0087 against 0.059 / 0.0021, mixed 0.0079 / 7.3e-5 against
          0.0029 / 5.3e-5, 10-D 0.35 / 0.059 against 0.19 / 0.011.
        One global trial in 2, 3 or 6 ranked in that order on these functions (more local did
        better); 4 keeps a quarter of the budget exploring for less tidy ones. A box around
        the batch's first pick instead of the best trial did worse on all four; sides of 0.1
        and 0.15 did worse on the mixed space (0.0077 and 0.0082 after 40 trials in batches,
        against 0.0034), mixed elsewhere; 0.3 about the same as 0.2.
        Discrete inputs (ints, steps, categoricals) are still swept over all their values, as
        in `_maximise`.
        """
        half = LOCAL_SIDE / 2
        low = np.clip(centre - half, 0.0, 1.0 - 1e-12)
        high = np.clip(centre + half, 0.0, 1.0 - 1e-12)
        candidates = self.inputs(low + (high - low) * rng.random((RANDOM_CANDIDATES, len(low))))
        scores, _ = acquisition(candidates)
        for index in np.argsort(-scores, kind="stable"):
            if self.taken(candidates[index], used, acquisition):
                continue
            refined = self.refine(acquisition, candidates[index], (low, high))
            return candidates[index] if self.taken(refined, used, acquisition) else refined
        return self.maximise(acquisition, np.empty((0, len(low))), used, rng)

    def taken(self, point: np.ndarray, used: set[Key], acquisition: Acquisition) -> bool:
        unit = self.inputs.to_units(point[None, :])[0]
        return self.inputs.space.key(self.inputs.space.decode(unit)) in used or acquisition.crowds(
            unit
        )

    def refine(
        self,
        acquisition: Acquisition,
        start: np.ndarray,
        box: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Gradient ascent over the numeric inputs (inside `box`, unit cube, if given), then a
        sweep of the discrete ones, twice; then ascent over the continuous inputs alone, with
        the discrete ones where the sweep left them. Never returns a point worse than `start`.

        Ints and stepped floats are climbed as if continuous: that finds which of their values
        the acquisition favours, between values where the model interpolates. But the
        continuous inputs follow them there, and once snapped back to a value they sit in
        the wrong place; the last ascent puts them right for the value. Without it, on
        mixed-interacting (seed 9, trial 60) the search took the best candidate's log EI
        from -5.8 to -9.1, and the sampler crept 1e-4 per trial towards an optimum the model
        had placed correctly 0.006 away."""
        low, high = (
            box if box is not None else (np.zeros(len(start)), np.full(len(start), 1 - 1e-12))
        )
        point = start.copy()
        for _ in range(2):
            point = self.climb(acquisition, point, ~self.inputs.categorical, low, high)
            point = self.inputs(self.inputs.to_units(point[None, :]))[0]
            before = point.copy()
            for j, dim in enumerate(self.inputs.space.dims):
                options = self.inputs.discrete_options(dim, j, point[j])
                if options is None:
                    continue
                variants = np.repeat(point[None, :], len(options), axis=0)
                variants[:, j] = options
                values, _ = acquisition(variants)
                point = variants[int(np.argmax(values))]
            if np.array_equal(before, point):
                break
        if not np.array_equal(self.inputs.continuous, ~self.inputs.categorical):
            point = self.climb(acquisition, point, self.inputs.continuous, low, high)
        start_value, _ = acquisition(start[None, :])
        end_value, _ = acquisition(point[None, :])
        return point if end_value[0] >= start_value[0] else start.copy()

    @staticmethod
    def climb(
        acquisition: Acquisition,
        point: np.ndarray,
        free: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
    ) -> np.ndarray:
        """L-BFGS-B on the acquisition over the inputs `free`, the others held."""
        if not free.any():
            return point

        def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
            trial = point.copy()
            trial[free] = z
            value, grad = acquisition(trial[None, :], gradient=True)
            assert grad is not None
            return -float(value[0]), -grad[0, free]

        result = minimize(
            objective,
            point[free],
            jac=True,
            method="L-BFGS-B",
            bounds=list(zip(low[free], high[free], strict=True)),
            options={"maxiter": 100},
        )
        climbed = point.copy()
        climbed[free] = result.x
        return climbed


def distinct_top(points: np.ndarray, scores: np.ndarray, count: int) -> list[int]:
    chosen: list[int] = []
    for index in np.argsort(-scores, kind="stable"):
        if all(np.abs(points[index] - points[c]).max() > 1e-6 for c in chosen):
            chosen.append(int(index))
            if len(chosen) == count:
                break
    return chosen
