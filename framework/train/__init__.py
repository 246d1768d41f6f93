"""A plain training loop: :func:`fit` for epochs of SGD-style updates, :func:`evaluate` for metrics.

:func:`fit` trains a classifier by default; a model with another kind of step (an autoencoder, a VAE, a GAN, a
regressor) passes its own ``step``, ``metrics`` (:class:`Metric` objects: :class:`Mean`, :class:`BatchMean`,
:class:`Accuracy`) and ``validate``. :func:`fit` takes callbacks (:class:`Callback`): :class:`EarlyStopping`,
:class:`ModelCheckpoint`, or your own. Learning-rate schedulers stay a plain ``scheduler=`` argument of
:func:`fit` (stepped after every epoch, before the callbacks run). :func:`cross_validate` runs k-fold
cross-validation with scikit-learn's splitters; :func:`bootstrap_accuracy_ci` gives a confidence interval of an
accuracy.

Modules: ``loop`` (:func:`fit`, :func:`loss_step`), ``cuda_graph`` (:class:`GraphStep`: ``fit(cuda_graph=True)``),
``metrics``, ``history`` (:class:`History`), ``evaluation``
(:func:`evaluate`, :func:`bootstrap_accuracy_ci`), ``callbacks``, ``cv`` (:func:`cross_validate`).
"""

from .callbacks import Callback, EarlyStopping, ModelCheckpoint
from .cuda_graph import GraphStep, RerunGraphs
from .cv import CVResult, cross_validate
from .evaluation import EvalResult, bootstrap_accuracy_ci, evaluate
from .history import History
from .loop import fit, loss_step
from .metrics import Accuracy, BatchMean, Mean, Metric

__all__ = [
    "History",
    "EvalResult",
    "fit",
    "evaluate",
    "bootstrap_accuracy_ci",
    "Callback",
    "EarlyStopping",
    "ModelCheckpoint",
    "CVResult",
    "cross_validate",
    "loss_step",
    "GraphStep",
    "RerunGraphs",
    "Metric",
    "Mean",
    "BatchMean",
    "Accuracy",
]
