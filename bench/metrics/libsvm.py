"""Prediction with trained LIBSVM models (as saved by LIBSVM's MATLAB interface) in NumPy.

Kept in NumPy on purpose: ``libsvm-official`` has no wheel here (sdist only, checked with pip download).


Reproduces LIBSVM 3.x ``svm_predict_values`` / ``svm_predict_probability`` for the model types the
IQA models use: C-SVC / ν-SVC with one-vs-one voting and probability estimates (Platt sigmoids per
pair, coupled with the Wu–Lin–Weng method of ``multiclass_probability``), and ε-SVR / ν-SVR. Kernels:
linear, polynomial, RBF (``exp(−γ‖x − sv‖²)``, the squared distance summed feature by feature as
``k_function`` does) and sigmoid.

A model is built from the MATLAB struct (``Parameters = [svm_type kernel_type degree gamma coef0]``,
``nr_class``, ``rho``, ``Label``, ``ProbA``, ``ProbB``, ``nSV``, ``sv_coef``, ``SVs``) read with
:func:`scipy.io.loadmat`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

C_SVC, NU_SVC, ONE_CLASS, EPSILON_SVR, NU_SVR = range(5)
LINEAR, POLY, RBF, SIGMOID = range(4)
_MIN_PROB = 1e-7


def _field(struct: Any, name: str) -> np.ndarray:
    value = struct[name]
    while isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        value = value.item()
    if hasattr(value, "toarray"):  # scipy sparse SVs
        value = value.toarray()
    return np.asarray(value)


@dataclass(frozen=True)
class SVMModel:
    """A trained LIBSVM model.

    Attributes:
        svm_type: 0 C-SVC, 1 ν-SVC, 2 one-class, 3 ε-SVR, 4 ν-SVR.
        kernel_type: 0 linear, 1 polynomial, 2 RBF, 3 sigmoid.
        degree, gamma, coef0: Kernel parameters.
        rho: ``(pairs,)`` biases (one per class pair; one value for regression).
        labels: ``(classes,)`` class labels in the model's order (empty for regression).
        prob_a, prob_b: ``(pairs,)`` Platt sigmoid parameters (empty without probability training).
        n_sv: ``(classes,)`` support vectors per class (empty for regression).
        sv_coef: ``(total_sv, classes − 1)`` dual coefficients (``(total_sv, 1)`` for regression).
        svs: ``(total_sv, features)`` support vectors, dense.
    """

    svm_type: int
    kernel_type: int
    degree: int
    gamma: float
    coef0: float
    rho: np.ndarray
    labels: np.ndarray
    prob_a: np.ndarray
    prob_b: np.ndarray
    n_sv: np.ndarray
    sv_coef: np.ndarray
    svs: np.ndarray

    @classmethod
    def from_matlab(cls, struct: Any) -> SVMModel:
        """Build from one MATLAB model struct as loaded by ``scipy.io.loadmat`` (``model[0, 0]``).

        Example:
            >>> import scipy.io  # doctest: +SKIP
            >>> m = SVMModel.from_matlab(scipy.io.loadmat("model.mat")["svmmodel"][0, 0])  # doctest: +SKIP
        """
        params = _field(struct, "Parameters").astype(np.float64).reshape(-1)
        n_total = _field(struct, "totalSV").reshape(-1)[0]
        return cls(
            svm_type=int(params[0]),
            kernel_type=int(params[1]),
            degree=int(params[2]),
            gamma=float(params[3]),
            coef0=float(params[4]),
            rho=_field(struct, "rho").astype(np.float64).reshape(-1),
            labels=_field(struct, "Label").astype(np.float64).reshape(-1),
            prob_a=_field(struct, "ProbA").astype(np.float64).reshape(-1),
            prob_b=_field(struct, "ProbB").astype(np.float64).reshape(-1),
            n_sv=_field(struct, "nSV").astype(np.int64).reshape(-1),
            sv_coef=_field(struct, "sv_coef").astype(np.float64).reshape(int(n_total), -1),
            svs=_field(struct, "SVs").astype(np.float64),
        )

    @property
    def is_classifier(self) -> bool:
        return self.svm_type in (C_SVC, NU_SVC)

    @property
    def n_class(self) -> int:
        return int(self.labels.size) if self.is_classifier else 2

    def kernel(self, x: np.ndarray) -> np.ndarray:
        """Kernel values ``(samples, total_sv)`` between rows of ``x`` and the support vectors."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if x.shape[1] != self.svs.shape[1]:
            raise ValueError(f"model expects {self.svs.shape[1]} features, got {x.shape[1]}")
        if self.kernel_type == RBF:
            dist = np.zeros((x.shape[0], self.svs.shape[0]))
            for f in range(x.shape[1]):  # k_function: sum of d*d over features in index order
                d = x[:, f, None] - self.svs[None, :, f]
                dist += d * d
            return np.exp(-self.gamma * dist)
        dot = x @ self.svs.T
        if self.kernel_type == LINEAR:
            return dot
        if self.kernel_type == POLY:
            return (self.gamma * dot + self.coef0) ** self.degree
        if self.kernel_type == SIGMOID:
            return np.tanh(self.gamma * dot + self.coef0)
        raise ValueError(f"unsupported kernel type {self.kernel_type} (precomputed kernels are not supported)")

    def decision_values(self, x: np.ndarray) -> np.ndarray:
        """``svm_predict_values``: ``(samples, pairs)`` for classifiers (pairs ordered (0,1), (0,2), …, (1,2), …),
        ``(samples,)`` for regression and one-class models."""
        kv = self.kernel(x)
        if not self.is_classifier:
            return kv @ self.sv_coef[:, 0] - self.rho[0]
        k = self.n_class
        start = np.concatenate([[0], np.cumsum(self.n_sv)[:-1]])
        out = np.empty((kv.shape[0], k * (k - 1) // 2))
        p = 0
        for i in range(k):
            si, ci = start[i], self.n_sv[i]
            for j in range(i + 1, k):
                sj, cj = start[j], self.n_sv[j]
                total = kv[:, si : si + ci] @ self.sv_coef[si : si + ci, j - 1]
                total = total + kv[:, sj : sj + cj] @ self.sv_coef[sj : sj + cj, i]
                out[:, p] = total - self.rho[p]
                p += 1
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``svm_predict``: labels by one-vs-one voting (ties to the first class), or regression values.

        Example:
            >>> # model.predict(features)  # (samples,) labels or values
        """
        dec = self.decision_values(x)
        if not self.is_classifier:
            if self.svm_type == ONE_CLASS:
                return np.where(dec > 0, 1.0, -1.0)
            return dec
        k = self.n_class
        votes = np.zeros((dec.shape[0], k), dtype=np.int64)
        p = 0
        for i in range(k):
            for j in range(i + 1, k):
                positive = dec[:, p] > 0
                votes[:, i] += positive
                votes[:, j] += ~positive
                p += 1
        return self.labels[np.argmax(votes, axis=1)]

    def predict_probability(self, x: np.ndarray) -> np.ndarray:
        """``svm_predict_probability`` of a classifier: ``(samples, classes)``, columns in ``labels`` order.

        Raises:
            ValueError: the model is not a classifier or was trained without probability estimates.
        """
        if not self.is_classifier or self.prob_a.size == 0:
            raise ValueError("probability estimates need a C-SVC/nu-SVC model trained with -b 1")
        dec = self.decision_values(x)
        k = self.n_class
        pairwise = np.clip(sigmoid_predict(dec, self.prob_a[None, :], self.prob_b[None, :]), _MIN_PROB, 1 - _MIN_PROB)
        if k == 2:
            return np.stack([pairwise[:, 0], 1 - pairwise[:, 0]], axis=1)
        r = np.zeros((dec.shape[0], k, k))
        p = 0
        for i in range(k):
            for j in range(i + 1, k):
                r[:, i, j] = pairwise[:, p]
                r[:, j, i] = 1 - pairwise[:, p]
                p += 1
        return np.stack([multiclass_probability(row) for row in r])


def sigmoid_predict(decision: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """LIBSVM's numerically stable Platt sigmoid ``1 / (1 + exp(decision·A + B))``.

    Example:
        >>> float(sigmoid_predict(np.array(0.0), np.array(-1.0), np.array(0.0)))
        0.5
    """
    f = decision * a + b
    with np.errstate(over="ignore"):
        pos = np.exp(-np.abs(f))
        return np.where(f >= 0, pos / (1.0 + pos), 1.0 / (1.0 + np.exp(np.minimum(f, 0.0))))


def multiclass_probability(r: np.ndarray) -> np.ndarray:
    """Wu, Lin & Weng (2004) pairwise coupling, LIBSVM's ``multiclass_probability`` step for step.

    Args:
        r: ``(k, k)`` pairwise probabilities, ``r[i, j] = P(i | i or j)``.

    Returns:
        ``(k,)`` class probabilities.

    Example:
        >>> r = np.array([[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
        >>> multiclass_probability(r).round(6).tolist()
        [0.333333, 0.333333, 0.333333]
    """
    k = r.shape[0]
    rr = [[float(v) for v in row] for row in r]
    max_iter = max(100, k)
    eps = 0.005 / k
    p = [1.0 / k] * k
    q = [[0.0] * k for _ in range(k)]
    for t in range(k):
        for j in range(t):
            q[t][t] += rr[j][t] * rr[j][t]
            q[t][j] = q[j][t]
        for j in range(t + 1, k):
            q[t][t] += rr[j][t] * rr[j][t]
            q[t][j] = -rr[j][t] * rr[t][j]
    qp = [0.0] * k
    for _ in range(max_iter):
        pqp = 0.0
        for t in range(k):
            qp[t] = 0.0
            for j in range(k):
                qp[t] += q[t][j] * p[j]
            pqp += p[t] * qp[t]
        max_error = max(abs(qp[t] - pqp) for t in range(k))
        if max_error < eps:
            break
        for t in range(k):
            diff = (-qp[t] + pqp) / q[t][t]
            p[t] += diff
            pqp = (pqp + diff * (diff * q[t][t] + 2 * qp[t])) / (1 + diff) / (1 + diff)
            for j in range(k):
                qp[j] = (qp[j] + diff * q[t][j]) / (1 + diff)
                p[j] /= 1 + diff
    return np.array(p)
