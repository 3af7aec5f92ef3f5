"""Seeing a study: `kubetune dashboard`, `kubetune export` and `kubetune report`.

Local results files and the cluster's Studies are first turned into the same documents (a
Study and its Trials as the API server returns them), so one pure module (`views`) feeds the
page, the exports and the self-contained report, whichever shell ran the study.
"""
