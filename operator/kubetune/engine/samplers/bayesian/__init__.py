"""`bayesian`: our Gaussian-process sampler, its parts in one folder (as Optuna keeps `_gp/`).

- `sampler.py`: the sampler (start-up points, global and local picks, batches, several
  objectives, constraints), registered as `bayesian`;
- `gaussian_process.py`: the GP (Matern-5/2, MAP hyperparameters, warped outputs);
- `model_inputs.py`: trials as the GP's inputs (units, categoricals, snapping);
- `acquisition.py`: log expected improvement (and pi, lcb) with exact gradients;
- `acquisition_search.py`: where it is climbed (random starts, L-BFGS-B, discrete sweeps);
- `feasibility.py`: the probability that a point meets the constraints;
- `hypervolume.py`: exact expected hypervolume improvement for several objectives;
- `front_search.py`: the global picks that reach every part of a Pareto front.
"""
