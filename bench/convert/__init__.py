"""Converters from other frameworks' checkpoints to bench's weights-only ``.pt`` files.

* :mod:`bench.convert.tf_checkpoint`: TensorFlow 1.x ``Saver`` checkpoints (``*.index``, ``*.data-*``):
  locate the files, read them (TensorFlow is the optional extra ``[tf]``, imported only here and only when
  a checkpoint is read), match every variable by name and shape, write the ``.pt`` with a card, and a
  content-keyed cache for ``--weights <TF checkpoint>``.
* :mod:`bench.convert.mspfn_tf`: the variable-name and layout mapping of the official MSPFN TF graphs
  onto :class:`derainers.mspfn.MSPFN` (``mspfn_official``, ``mspfn_official_train``).

Nothing here is imported by ``import bench``.
"""
