"""The script ``streamlit run`` starts for ``treatsim app``: the page itself is
:func:`sim.app.ui.main`. A problem the page did not foresee is shown as a message, never
as a traceback (the full one goes to the server's log)."""

import traceback

import streamlit as st

from sim.app.ui import main

try:
    main()
except Exception as exc:  # noqa: BLE001 (the last guard of the page)
    traceback.print_exc()
    st.error(f"The page hit a problem it did not expect: {type(exc).__name__}: {exc}. "
             "Nothing was written for it; the server's log has the details.")
