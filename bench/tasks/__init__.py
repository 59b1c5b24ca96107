"""Tasks glue one dataset × derainer × evaluator into a run that writes one run record."""
