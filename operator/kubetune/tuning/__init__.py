"""`kubetune.tune`: a Python function run as a study's trials, locally or on a cluster."""
