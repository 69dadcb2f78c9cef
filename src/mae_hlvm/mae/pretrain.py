"""``python -m mae_hlvm.mae.pretrain --help``: the pretraining command line (see :mod:`.cli`).

``mae_hlvm.mae.pretrain`` is also the training *function*. Importing this module would normally
replace that package attribute with the module, so the module is made callable: calling it calls
:func:`mae_hlvm.mae.train.pretrain`, whichever of the two a caller ends up holding.
"""
from __future__ import annotations

import sys
import types

from .cli import main
from .train import pretrain as _pretrain


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return _pretrain(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    sys.exit(main())
