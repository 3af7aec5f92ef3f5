"""The local shell: `kubetune run` (trials as processes) and the in-process ask/tell `Tuner`.

It only observes and acts: every decision comes from `kubetune.engine.decide`.
"""
