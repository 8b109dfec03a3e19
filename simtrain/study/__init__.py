"""What-if studies: declarative sweeps over configurations, run on a local pool or Dask, saved as they finish.

Examples
--------
>>> study = load_study("quickstart")
>>> study.name
'quickstart'
"""

from simtrain.study.point import OUTPUT_COLUMNS, run_point
from simtrain.study.runner import run_study
from simtrain.study.spec import POINT_KEYS, Study, load_study, point_seed, study_from_dict

__all__ = ["OUTPUT_COLUMNS", "POINT_KEYS", "Study", "load_study", "point_seed", "run_point", "run_study",
           "study_from_dict"]
