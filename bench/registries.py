"""The five registries and their built-in (lazy) entries.

Nothing here imports torch or a model: each entry is a ``"module:attr"`` string that is imported on
first :meth:`~bench.registry.Registry.get`. Adding a derainer is one module plus one line below (or
an entry point in group ``bench.derainers`` for third-party packages).
"""

from __future__ import annotations

from typing import Any

from bench.registry import Registry

DERAINERS: Registry[Any] = Registry("derainer", entry_point_group="bench.derainers")
DATASETS: Registry[Any] = Registry("dataset", entry_point_group="bench.datasets")
TASKS: Registry[Any] = Registry("task", entry_point_group="bench.tasks")
METRICS: Registry[Any] = Registry("metric", entry_point_group="bench.metrics")
EVALUATORS: Registry[Any] = Registry("evaluator", entry_point_group="bench.evaluators")

_BUILTIN_DERAINERS: list[tuple[str, str, str, tuple[str, ...]]] = [
    # name, lazy reference, summary, aliases
    (
        "identity",
        "derainers.identity:identity",
        "No deraining: the rainy input itself (the 'Rain input' row).",
        ("rain_input", "none"),
    ),
    (
        "mspfn",
        "derainers.mspfn:mspfn",
        "MSPFN M17N1 (Jiang et al., CVPR'20), the paper's main model.",
        ("mspfn_m17n1",),
    ),
    ("mspfn_m10n3", "derainers.mspfn:mspfn_m10n3", "MSPFN M10N3, the paper's baseline (Table 2).", ()),
    ("mspfn_m17n2", "derainers.mspfn:mspfn_m17n2", "MSPFN M17N2 (Table 3).", ()),
    ("mspfn_m13n2", "derainers.mspfn:mspfn_m13n2", "MSPFN M13N2 (Table 3).", ()),
    ("mspfn_m8n5", "derainers.mspfn:mspfn_m8n5", "MSPFN M8N5 (Table 3).", ()),
    ("mspfn_m30n1", "derainers.mspfn:mspfn_m30n1", "MSPFN M30N1 (Table 3).", ()),
    (
        "mspfn_release",
        "derainers.mspfn:mspfn_release",
        "MSPFN M17N1 with the TF release's widths (LSTM 64/128/256).",
        (),
    ),
    (
        "mspfn_official",
        "derainers.mspfn:mspfn_official",
        "MSPFN as the official TF test graph TEST_MSPFN_M17N1.py (TF SAME padding, BGR): runs the authors' checkpoint.",
        ("mspfn_tf",),
    ),
    (
        "mspfn_official_train",
        "derainers.mspfn:mspfn_official_train",
        "MSPFN as the official TF training graph MSPFN.py, N=(1,3,3) per scale (TF SAME padding, BGR).",
        (),
    ),
    (
        "mspfn_light",
        "derainers.mspfn:mspfn_light",
        "MSPFN* lightweight (M5N1, 32 channels, two-level URAB).",
        ("mspfn_star", "mspfn_m5n1"),
    ),
    ("mspfn_tiny", "derainers.mspfn:mspfn_tiny", "A tiny MSPFN for tests only.", ()),
    ("prenet", "derainers.prenet:prenet", "PReNet (Ren et al., CVPR'19), 6 recurrent stages with a Conv-LSTM.", ()),
    ("prenet_r", "derainers.prenet:prenet_r", "PReNet_r: PReNet with one ResBlock applied recursively.", ()),
    ("prn", "derainers.prenet:prn", "PRN: PReNet without the recurrent Conv-LSTM.", ()),
    ("prn_r", "derainers.prenet:prn_r", "PRN_r: PRN with one ResBlock applied recursively.", ()),
    (
        "prenet_real",
        "derainers.prenet:prenet_real",
        "PReNet's real-rain generator (Generator_lstm, 4 stages) for logs/real/PReNet{1,2}.pth.",
        (),
    ),
    ("rescan", "derainers.rescan:rescan", "RESCAN (Li et al., ECCV'18), recurrent SE context aggregation.", ()),
    ("ddn", "derainers.ddn:ddn", "DDN deep detail network (Fu et al., CVPR'17).", ()),
    (
        "derainnet",
        "derainers.derainnet:derainnet",
        "DerainNet (Fu et al., TIP'17), 3-layer CNN on the detail layer.",
        (),
    ),
    (
        "umrl",
        "derainers.umrl:umrl",
        "UMRL (Yasarla & Patel, CVPR'19), uncertainty-guided multi-scale residual learning.",
        (),
    ),
    (
        "guided_filter",
        "derainers.classical:guided_filter",
        "Classical: guided-filter base layer + streak-suppressed detail (no learning).",
        ("classical",),
    ),
]

_BUILTIN_METRICS: list[tuple[str, str, str]] = [
    ("psnr_y", "bench.metrics.fidelity:PSNR_Y", "PSNR on MATLAB rgb2ycbcr Y of uint8 images (rounded Y), peak 255."),
    ("ssim_y", "bench.metrics.fidelity:SSIM_Y", "Wang 2003 SSIM (11x11 Gaussian, valid) on rounded MATLAB Y."),
    ("psnr_y_float", "bench.metrics.fidelity:PSNR_Y_FLOAT", "PSNR on unrounded Y (PReNet's statistic/ convention)."),
    ("ssim_y_float", "bench.metrics.fidelity:SSIM_Y_FLOAT", "SSIM on unrounded Y (PReNet's statistic/ convention)."),
    ("psnr_rgb", "bench.metrics.fidelity:PSNR_RGB", "PSNR over all RGB channels of uint8 images, peak 255."),
    ("ssim_rgb", "bench.metrics.fidelity:SSIM_RGB", "Wang 2003 SSIM per RGB channel, averaged."),
    ("fsim", "bench.metrics.fsim:FSIM", "FSIM (Zhang et al. 2011) on MATLAB rgb2gray luminance."),
    ("fsimc", "bench.metrics.fsim:FSIMC", "FSIMc, FSIM with chromatic (YIQ) similarity."),
    ("niqe", "bench.metrics.niqe:NIQE", "NIQE (Mittal et al. 2013), LIVE pristine model, MATLAB-faithful."),
    ("sseq", "bench.metrics.sseq:SSEQ", "SSEQ (Liu et al. 2014), spatial/spectral entropies + original LIBSVM models."),
    ("brisque", "bench.metrics.brisque:BRISQUE", "BRISQUE (Mittal et al. 2012) with OpenCV's LIVE model files."),
]

_BUILTIN_TASKS: list[tuple[str, str, str]] = [
    (
        "restoration",
        "bench.tasks.restoration:RestorationTask",
        "Derain paired rainy/clean sets and score PSNR/SSIM/FSIM.",
    ),
    (
        "detection",
        "bench.tasks.downstream:DetectionTask",
        "Object detection (YOLO) on clean / rainy / derained images.",
    ),
    (
        "instance",
        "bench.tasks.downstream:InstanceTask",
        "Instance segmentation (Mask R-CNN, YOLO-seg) on clean / rainy / derained.",
    ),
    (
        "semantic",
        "bench.tasks.semantic:SemanticTask",
        "Semantic segmentation (ESPNetv2, torchvision, mmseg; Cityscapes classes) on clean / rainy / derained.",
    ),
    ("noref", "bench.tasks.noref:NoRefTask", "No-reference quality (NIQE, SSEQ) of rainy and derained real photos."),
]

_BUILTIN_EVALUATORS: list[tuple[str, str, str]] = [
    ("yolo", "bench.evaluators.yolo:YoloDetector", "Ultralytics YOLO detector (.pt/.onnx/.tflite), offline."),
    ("yolo_seg", "bench.evaluators.yolo:YoloSegmenter", "Ultralytics YOLO instance segmentation (.pt/.onnx/.tflite)."),
    (
        "maskrcnn",
        "bench.evaluators.maskrcnn:MaskRCNN",
        "torchvision Mask R-CNN R50-FPN (weights from a path or the torch cache).",
    ),
    ("espnetv2", "bench.evaluators.espnetv2:ESPNetv2Segmenter", "ESPNetv2 (s=2.0) Cityscapes semantic segmentation."),
    (
        "torchvision_seg",
        "bench.evaluators.torchvision_seg:TorchvisionSegmenter",
        "torchvision semantic segmentation models.",
    ),
    (
        "mmseg",
        "bench.evaluators.mmseg:MMSegSegmenter",
        "mmsegmentation 1.x semantic segmentation (-o config=... -o weights=...; optional extra [mmseg]).",
    ),
    (
        "face_cascade",
        "bench.evaluators.cascade:FaceCascadeDetector",
        "scikit-image LBP face cascade (ships with the package; weights-free fallback).",
    ),
    ("dummy_detector", "bench.evaluators.dummy:DummyDetector", "Deterministic fake detector for tests (no model)."),
    ("dummy_segmenter", "bench.evaluators.dummy:DummySegmenter", "Deterministic fake semantic segmenter for tests."),
]


def _populate() -> None:
    for name, ref, summary, aliases in _BUILTIN_DERAINERS:
        DERAINERS.add(name, ref, summary=summary, aliases=aliases)
    for name, ref, summary in _BUILTIN_METRICS:
        METRICS.add(name, ref, summary=summary)
    METRICS.add_family(
        "pyiqa",
        "bench.metrics.pyiqa_metrics:pyiqa_metric",
        summary="any pyiqa metric, e.g. pyiqa:lpips, pyiqa:musiq (optional extra [pyiqa]; licence "
        "PolyForm-Noncommercial-1.0.0: non-commercial use only)",
    )
    for name, ref, summary in _BUILTIN_TASKS:
        TASKS.add(name, ref, summary=summary)
    for name, ref, summary in _BUILTIN_EVALUATORS:
        EVALUATORS.add(name, ref, summary=summary)
    from bench.data.catalog import register_builtin_datasets

    register_builtin_datasets(DATASETS)


_populate()
