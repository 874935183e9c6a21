"""The what-if page (``treatsim app``): a local Streamlit page on which a commissioner
picks an area and a preset, changes a few controls, and gets the comparison's answer,
report and what-if YAML.

The modules, each importing only those above it: ``whatif`` (the controls and the YAML
they stand for), ``areas`` (the calibrated baselines and their fit), ``jobs`` (the
queue that runs ``treatsim compare`` for every browser tab, no more at once than the
machine has workers), ``answer`` (a finished run read back for the page) and ``ui``
(the Streamlit page itself; ``page.py`` is the script Streamlit runs).
"""
