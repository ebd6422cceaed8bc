"""What to run when a cell fails because the kernel lost the notebook's state (an IPython extension, 01).

A student who restarts the kernel, opens a notebook half-way or re-runs the parameters cell gets a bare
NameError ("name 'lh' is not defined") or a TypeError about None. The course kernel loads this extension
(`tools/install_kernel.py` registers it), so such an error is followed by one line that says which cells to run.
"""

from __future__ import annotations

RESTARTED = ("hint: {name!r} is defined in an earlier cell that has not run in this kernel (it was restarted, or "
             "cells ran out of order). Run the cells above this one first: Run > Run All Above Selected Cell "
             "(in Colab: Runtime > Run before). If you defined {name!r} yourself, check its spelling.")
NONE_PARAMETER = ("hint: a parameter is None. The parameters cell leaves defaults as None and the cell after it "
                  "(lh.start and the settings) fills them in: if you re-ran the parameters cell, run the cell "
                  "right after it again, then this one.")


def hint_for(error: BaseException) -> str | None:
    """The hint for an error, or None when it is not one of the lost-state kinds."""
    if isinstance(error, NameError) and not isinstance(error, UnboundLocalError):
        name = getattr(error, "name", None) or str(error).split("'")[1 if "'" in str(error) else 0]
        return RESTARTED.format(name=name)
    if isinstance(error, TypeError) and "NoneType" in str(error):
        return NONE_PARAMETER
    return None


def _handler(shell, etype, value, tb, tb_offset=None):
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    hint = hint_for(value)
    if hint:
        print(hint)
    return None


def load_ipython_extension(shell) -> None:
    shell.set_custom_exc((NameError, TypeError), _handler)


def unload_ipython_extension(shell) -> None:
    shell.set_custom_exc((), None)
