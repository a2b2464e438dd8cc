"""The one rule for what a text line is, shared by the scanner and ``split``."""

import numpy as np
from numba import njit

# Blank bytes (space, tab, CR, VT, FF): a table, cheaper to compile than a helper.
BLANK = np.zeros(256, dtype=np.bool_)
BLANK[[32, 9, 13, 11, 12]] = True


@njit(cache=True, inline="always")
def line_class(buf, p, hi, cmt, cmt_len):
    """0 data line, 1 blank line, 2 comment line (``p`` is the line start).

    Blank: only blank bytes before the newline. Comment: the first non-blank
    bytes match one of the prefixes in ``cmt`` (rows of bytes, lengths in
    ``cmt_len``).
    """
    q = p
    while q < hi and BLANK[buf[q]]:
        q += 1
    if q >= hi or buf[q] == 10:
        return 1
    c = buf[q]
    for k in range(cmt.shape[0]):
        n = cmt_len[k]
        if c == cmt[k, 0] and q + n <= hi:
            same = True
            for t in range(1, n):
                if buf[q + t] != cmt[k, t]:
                    same = False
                    break
            if same:
                return 2
    return 0
