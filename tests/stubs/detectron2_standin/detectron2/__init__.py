"""A test-only stand-in for detectron2 (which is not on PyPI and cannot be installed here).

It mimics the parts of detectron2's API that ``bench.evaluators.detectron2_backend`` uses, with the same
names and output structures: ``config.get_cfg`` (a nested config with ``merge_from_file``),
``model_zoo.get_config_file``, ``engine.DefaultPredictor`` (reads images in ``cfg.INPUT.FORMAT``, returns
``{"instances": Instances}``) and ``structures.Boxes`` / ``structures.Instances``. Its "model" is a rule:
one instance per strongly red region (class 0, person) and per strongly blue region (class 2, car), so a
wrong channel order swaps the classes. Put ``tests/stubs/detectron2_standin`` first on ``sys.path``.
"""

__version__ = "0.6-standin"
