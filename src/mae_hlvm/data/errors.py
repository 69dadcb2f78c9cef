"""The one exception type for data a computation cannot use."""
from __future__ import annotations

__all__ = ["DataError"]


class DataError(ValueError):
    """Images or a data source that cannot be used as given: an unreadable file (named), a wrong dtype,
    shape or channel count, values outside the documented range, NaN or inf.

    The message names the file or value, the rule, and how to repair it. A ``ValueError`` subclass, so
    code that catches ``ValueError`` keeps working.
    """
