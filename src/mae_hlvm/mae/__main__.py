"""``python -m mae_hlvm.mae`` (or ``torchrun ... -m mae_hlvm.mae``): the pretraining command line."""
import sys

from .cli import main

sys.exit(main())
