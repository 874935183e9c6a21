"""Running work: the process pool (:mod:`.pool`), one executor layer over this process,
the pool and Dask (:mod:`.executors`), replications (:mod:`.runner`), sweeps
(:mod:`.sweep`) and the estimate of work before it starts (:mod:`.limits`)."""
