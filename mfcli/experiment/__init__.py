"""`mfcli run`: experiments from one YAML file (split, fit, search, eval, compare).

``spec`` reads and checks the experiment file, ``search`` expands parameter
grids and random searches, ``steps`` keeps the manifest that lets a re-run skip
unchanged steps, ``runner`` chains the steps and ``table`` writes the
comparison. Nothing here prints; the CLI renders what ``runner`` returns.
"""
