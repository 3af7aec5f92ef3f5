"""`tpe`: tree-structured Parzen estimators, in one folder (as Optuna keeps `_tpe/`).

- `sampler.py`: the sampler (the split into good and bad trials, the groups of parameters
  active together, the constant liar), registered as `tpe`;
- `parzen.py`: the estimators and their bandwidths.
"""
