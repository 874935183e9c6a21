"""Writing and reading results: where treatsim may write (:mod:`.outputs`), a run's or
a comparison's folder (:mod:`.results`) and a sweep's folder (:mod:`.sweep_store`)."""
