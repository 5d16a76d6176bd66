"""Score calibrators: similarity scores -> probabilities of relevance (registered as plugins).

Use ``clir_calib.plugins.CALIBRATORS.get(name)`` to get a class by name and
:func:`load_calibrator` to read a fitted one back from its JSON file.
"""

from clir_calib.calibrators.base import Calibrator
from clir_calib.calibrators.files import fit_calibrator, load_calibrator, refused_fit

__all__ = ["Calibrator", "fit_calibrator", "load_calibrator", "refused_fit"]
