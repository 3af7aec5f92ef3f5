"""Manifests of other tuners, converted to Studies (`kubetune convert`)."""
