"""The TF reference side of tests/test_tf_checkpoint.py, run in a child process: ``python THIS JOB.json``.

TensorFlow never loads into the pytest process: once it is loaded, importing Triton (``torch.compile``,
``torch._dynamo``, used by other tests) crashes the process. A job is a JSON file:

* ``{"kind": "graph", "shape", "config", "ffm", "seed", "prefix", "input", "output", "extra_variables"}``:
  build the official MSPFN generator (:func:`build_tf_mspfn`) with random weights, save it with a
  ``Saver`` at ``prefix``, run it on the ``.npy`` at ``input`` and write the derained output to ``output``;
* ``{"kind": "layers", "input", "output"}``: for each case ``i`` of the ``.npz`` at ``input`` (``x{i}``
  NHWC, ``down{i}`` a conv2d filter, ``up{i}`` a conv2d_transpose filter), write TF's stride-2 ``SAME``
  ``conv2d`` and ``conv2d_transpose`` (to 2H×2W) results to ``output``.

The graph is written for this project from mspfn_spec.md and the official layer helpers' behaviour
(variable names and shapes under ``generator/``), not copied from the authors' files.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np


def build_tf_mspfn(tf: Any, shape: tuple[int, int, int, int], cfg: dict[str, Any], ffm: str, seed: int) -> Any:
    """Build the official generator (``TEST_MSPFN_M17N1.py`` / ``MSPFN.py`` layout) in a new graph.

    ``cfg`` is an MSPFN config (M, N per scale, widths); ``ffm`` the fine-fusion scope (``BCM``/``URAB``).
    Returns ``(graph, input placeholder, derained output)``, BGR NHWC in [-1, 1].
    """
    v1 = tf.compat.v1
    graph = tf.Graph()
    b = shape[0]
    c, lstm_in, mid = cfg["channels"], cfg["lstm_input"], cfg["rm_mid"]
    with graph.as_default():
        v1.set_random_seed(seed)
        glorot = v1.glorot_uniform_initializer()
        small = v1.random_uniform_initializer(-0.1, 0.1)
        slope = v1.random_uniform_initializer(0.0, 0.3)  # PReLU alphas: not 0, so that their mapping matters
        scope = v1.variable_scope

        def prelu(t: Any) -> Any:
            alpha = v1.get_variable("alpha", [t.shape[-1]], initializer=slope)
            return tf.maximum(0.0, t) + alpha * tf.minimum(0.0, t)

        def deconv(name: str, t: Any, out: int, stride: int = 1, act: bool = True) -> Any:
            with scope(name):  # deconv_layer: conv2d_transpose, filter [3, 3, out, in], SAME
                filt = v1.get_variable("weight", [3, 3, out, t.shape[-1]], initializer=glorot)
                size = [b, t.shape[1] * stride, t.shape[2] * stride, out]
                y = tf.nn.conv2d_transpose(t, filt, size, [1, stride, stride, 1], padding="SAME")
                return prelu(y) if act else y

        def down(name: str, t: Any) -> Any:
            with scope(name):  # conv_layer: conv2d, filter [3, 3, in, out], stride 2, SAME
                filt = v1.get_variable("weight", [3, 3, t.shape[-1], c], initializer=glorot)
                return prelu(tf.nn.conv2d(t, filt, [1, 2, 2, 1], padding="SAME"))

        def dense(name: str, t: Any, out: int, k: int, act: str | None = None) -> Any:
            with scope(name):  # tf.layers.conv2d: kernel, bias (activation inside the layer's scope)
                kern = v1.get_variable("kernel", [k, k, t.shape[-1], out], initializer=glorot)
                bias = v1.get_variable("bias", [out], initializer=small)
                y = tf.nn.conv2d(t, kern, [1, 1, 1, 1], padding="SAME") + bias
                return prelu(y) if act == "prelu" else tf.sigmoid(y) if act == "sigmoid" else y

        def rcab(t: Any) -> Any:
            f = dense("conv2d_1", dense("conv2d", t, c, 3, "prelu"), c, 3)
            s = dense("conv2d_2", tf.reduce_mean(f, axis=(1, 2), keepdims=True), c // 4, 1, "prelu")
            return t + f * dense("conv2d_3", s, c, 1, "sigmoid")

        def lstm(name: str, t: Any, hid: int) -> Any:
            with scope(name), scope("convLSTM"), scope("LSTM_conv"):  # one step of BasicConvLSTMCell
                zeros = tf.zeros([b, t.shape[1], t.shape[2], hid])
                kern = v1.get_variable("weights", [3, 3, lstm_in + hid, 4 * hid], initializer=glorot)
                bias = v1.get_variable("biases", [4 * hid], initializer=small)
                gates = tf.nn.conv2d(tf.concat([t, zeros], 3), kern, [1, 1, 1, 1], padding="SAME") + bias
                i, j, f, o = tf.split(gates, 4, axis=3)
                cell = zeros * tf.sigmoid(f + 1.0) + tf.sigmoid(i) * tf.tanh(j)
                return tf.tanh(cell) * tf.sigmoid(o)

        def box(t: Any, k: int) -> Any:
            weight = np.zeros((k, k, 3, 3), np.float32)
            for ch in range(3):
                weight[:, :, ch, ch] = 1.0 / k**2
            return tf.nn.conv2d(t, tf.constant(weight), [1, k, k, 1], padding="SAME")

        def urab(name: str, t: Any, n: int, tag: str, num_cau: int) -> Any:
            with scope(name):
                d = r = down(f"{tag}_{n + 1}", t)
                for m in range(num_cau):
                    with scope(f"group_{n + 1}_RCAB{m + 1}"):
                        r = rcab(r)
                return deconv(f"up_{n + 1}", tf.concat([d, r], 3), c, 2)

        x = v1.placeholder(tf.float32, shape)
        with scope("generator"):
            hid4, hid2, hid1 = cfg["lstm_hidden"]
            f1, f2, f4 = deconv("rnn1", x, c), deconv("rnn2", box(x, 2), c), deconv("rnn4", box(x, 4), c)
            with scope("residual_memory"):
                r4 = deconv("rain4_res2", lstm("lstm_group4", deconv("rain4_res1", f4, lstm_in), hid4), c) + f4
                u42 = deconv("upRMM4_2", r4, c, 2)
                r2 = deconv("rain2_res2", lstm("lstm_group2", deconv("rain2_res1", f2 + u42, lstm_in), hid2), c) + f2
                u41, u21 = deconv("upRMM4_1", u42, c, 2), deconv("upRMM2_1", r2, c, 2)
                r1 = deconv("rain_res2", lstm("lstm_group", deconv("rain_res1", f1 + u21 + u41, lstm_in), hid1), c)
                r1 = r1 + f1
            x4, x2, x1 = r4, r2, r1
            n4, n2, n1 = cfg["cau_per_scale"]
            for n in range(cfg["num_ffm"]):
                x4 = x4 + urab(f"{ffm}4_{n}", x4, n, "down4", n4)
                with scope(f"{ffm}2_{n}"):
                    t42 = deconv(f"up{ffm}4_2_{n}", x4, c, 2)
                x2 = x2 + urab(f"{ffm}2_{n}", x2 + t42, n, "down2", n2)
                with scope(f"{ffm}_{n}"):
                    t41, t21 = deconv(f"up{ffm}4to1_{n}", t42, c, 2), deconv(f"up{ffm}2to1_{n}", x2, c, 2)
                x1 = x1 + urab(f"{ffm}_{n}", x1 + t41 + t21, n, "down", n1)
            z4 = deconv("rnn_recon4", tf.concat([x4, r4], 3), c)
            z2 = deconv("rnn_recon2", tf.concat([x2, r2], 3), c)
            z1 = deconv("rnn_recon", tf.concat([x1, r1], 3), c)
            z421 = deconv("up2_1", tf.concat([deconv("up4_2", z4, c, 2), z2], 3), c, 2)
            rain = deconv("rnn7", deconv("rnn5", tf.concat([z1, z421], 3), mid), 3, act=False)
        derained = x - rain
    return graph, x, derained


def save_tf_checkpoint(tf: Any, graph: Any, prefix: Path, extra_variables: bool = False) -> Any:
    """Initialise the graph's variables, save them with a ``Saver`` and return the open session."""
    v1 = tf.compat.v1
    prefix.parent.mkdir(parents=True, exist_ok=True)
    with graph.as_default():
        if extra_variables:  # what a training checkpoint also holds: optimizer slots and a step counter
            v1.get_variable("generator/rnn1/weight/Adam", [3], initializer=v1.zeros_initializer())
            v1.get_variable("MSPFN/global_step", [], initializer=v1.zeros_initializer())
        config = v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
        sess = v1.Session(graph=graph, config=config)
        sess.run(v1.global_variables_initializer())
        v1.train.Saver().save(sess, str(prefix))
    return sess


def _graph_job(tf: Any, job: dict[str, Any]) -> None:
    shape = tuple(job["shape"])
    graph, x, out = build_tf_mspfn(tf, shape, job["config"], job["ffm"], job["seed"])
    sess = save_tf_checkpoint(tf, graph, Path(job["prefix"]), job.get("extra_variables", False))
    np.save(job["output"], sess.run(out, {x: np.load(job["input"])}))
    sess.close()


def _layers_job(tf: Any, job: dict[str, Any]) -> None:
    results = {}
    with np.load(job["input"]) as cases:
        for i in range(len(cases.files) // 3):
            x = cases[f"x{i}"]
            n, h, w, _ = x.shape
            up = cases[f"up{i}"]
            results[f"down{i}"] = tf.nn.conv2d(x, cases[f"down{i}"], 2, "SAME").numpy()
            results[f"up{i}"] = tf.nn.conv2d_transpose(x, up, [n, 2 * h, 2 * w, up.shape[2]], 2, "SAME").numpy()
    np.savez(job["output"], **results)


def main(job_file: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    job = json.loads(Path(job_file).read_text())
    {"graph": _graph_job, "layers": _layers_job}[job["kind"]](tf, job)


if __name__ == "__main__":
    main(sys.argv[1])
