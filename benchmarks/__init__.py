"""Side-by-side benchmarks of mfcli and its peers; ``python -m benchmarks.run``.

Every measurement runs in a fresh subprocess (``benchmarks.child``) so that
peak memory belongs to one tool and one operation. Cases live in
``benchmarks/cases/`` as small modules with a common interface (see
``benchmarks.cases``); data comes from mfcli's own generator and is cached
in ``benchmarks/_data/`` (not committed).
"""
