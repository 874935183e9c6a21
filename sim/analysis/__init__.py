"""Questions asked of runs: comparisons on common random numbers (:mod:`.compare`) and
their report (:mod:`.report`), calibration to cited targets (:mod:`.calibrate`) and
sensitivity of a sweep (:mod:`.sensitivity`)."""
