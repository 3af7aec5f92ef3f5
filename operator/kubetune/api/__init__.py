"""What users write: the Study and Trial models, their validation, and CRD rendering.

Pure: no I/O beyond what callers hand in. The engine builds on these models; nothing here
imports the engine, the shells, kopf or the Kubernetes client.
"""

from kubetune.api.errors import FieldError, InvalidStudyError
from kubetune.api.parameters import Parameter, Params, ParamValue
from kubetune.api.study import Study, StudySpec, load_study

__all__ = [
    "FieldError",
    "InvalidStudyError",
    "ParamValue",
    "Parameter",
    "Params",
    "Study",
    "StudySpec",
    "load_study",
]
