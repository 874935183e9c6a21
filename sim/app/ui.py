"""The what-if page in Streamlit: area and preset, the controls, the live what-if YAML,
the run with its progress, then the answer (:mod:`.ui_answer`).

Settings come from the environment, which ``treatsim app`` sets:
``TREATSIM_APP_SCENARIOS`` (the scenarios folder), ``TREATSIM_APP_OUT`` (the page's
results folder) and ``TREATSIM_APP_WORKERS`` (processes for one run; runs queue behind
each other).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import streamlit as st

from ..io.outputs import OutputError
from ..scenario import Scenario, ScenarioError
from ..text import printable
from . import ui_answer, ui_controls
from .areas import Area, baseline_files, load_area, scenarios_folder
from .jobs import JobQueue
from .runs import RunOptions, plan, reproduce_command, results_folder, write_whatif
from .whatif import Controls, check_whatif, presets, whatif_yaml

DEFAULT_OUT = "results/app"


def workers() -> int:
    """Processes one run uses (and so the most simulations running at once)."""
    return max(1, int(os.environ.get("TREATSIM_APP_WORKERS") or os.cpu_count() or 1))


def _session() -> str | None:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx else None


def _alive(session_id: str) -> bool:
    """Whether a browser session is still connected (always, outside a server)."""
    from streamlit import runtime

    if not runtime.exists():
        return True
    return runtime.get_instance().is_active_session(session_id)


@st.cache_resource
def job_queue() -> JobQueue:
    """The one queue of the server process, shared by every browser tab."""
    return JobQueue(slots=1, alive=_alive)


@st.cache_resource
def area(path: str, modified_ns: int) -> Area:
    """A baseline with its fit (read again only when its file changes, by
    ``modified_ns``, the file's modification time in nanoseconds)."""
    return load_area(Path(path))


def main() -> None:
    """Draw the page."""
    st.set_page_config(page_title="treatsim: what if?", layout="wide")
    st.title("What if? A local drug treatment system, simulated")
    folder = scenarios_folder(os.environ.get("TREATSIM_APP_SCENARIOS"))
    files = baseline_files(folder)
    if not files:
        st.error(f"No calibrated baseline in {printable(folder)}: start the page in the "
                 "treatsim folder, or give it the scenarios folder with --scenarios.")
        return
    try:
        root = results_folder(os.environ.get("TREATSIM_APP_OUT") or DEFAULT_OUT)
    except OutputError as exc:
        st.error(str(exc))
        return
    try:
        chosen = _choose_area(files)
    except ScenarioError as exc:
        st.error(f"This baseline does not load, so the page cannot use it:\n\n{exc.message()}")
        return
    base = chosen.scenario
    preset = _choose_preset(chosen)
    c, start = ui_controls.controls(base, chosen.file, preset)
    options = ui_controls.run_options(base, chosen.file)
    _whatif_and_run(chosen, c, start if preset else None, options, root)
    ui_answer.show(job_queue(), st.session_state.get("job"), workers())


def _choose_area(files: list[Path]) -> Area:
    names = [f.stem for f in files]
    with st.sidebar:
        st.header("1. Area")
        name = st.selectbox("Calibrated baseline", names, key="area",
                            on_change=ui_controls.area_changed)
        path = files[names.index(name)]
        chosen = area(str(path), path.stat().st_mtime_ns)
        st.caption(" ".join(chosen.scenario.description.split()))
        st.markdown(f"**Fit to the area's figures:** {chosen.fit_line()}")
        chart = chosen.fit.get("chart")
        if chart is not None:
            st.download_button("Fit plot (PNG)", ui_answer.image_bytes(chart),
                               file_name=f"{chosen.name}_fit.png", mime="image/png",
                               key="download_fit")
            with st.expander("Fit plot and targets"):
                ui_answer.image(chart)
                st.dataframe(chosen.fit["rows"], hide_index=True)
    return chosen


def _choose_preset(chosen: Area) -> Path | None:
    files = presets(chosen.file)
    labels = [ui_controls.NO_PRESET, *(f.stem for f in files)]
    with st.sidebar:
        st.header("2. Preset")
        pick = st.selectbox("Start from a what-if of this area", labels, key="preset",
                            on_change=ui_controls.reset)
    return None if pick == ui_controls.NO_PRESET else files[labels.index(pick) - 1]


def _whatif_and_run(chosen: Area, c: Controls, preset_c: Controls | None,
                    options: RunOptions, root: Path) -> None:
    """The live YAML, its check by the scenario loader, and the Run button;
    ``preset_c`` are the preset's own controls (its description is kept while they
    stand)."""
    base = chosen.scenario
    st.subheader("4. The what-if file")
    if preset_c is not None and _same(c, preset_c):
        c = dataclasses.replace(c, description=preset_c.description)
    else:
        c = dataclasses.replace(c, description="")
    text = whatif_yaml(c, base, command=_command(c, options))
    problem, whatif = None, None
    try:
        whatif = check_whatif(text, chosen.file, c.name)
    except ScenarioError as exc:
        problem = (problem + "\n\n" if problem else "") + exc.message()
    if c.name == base.name:
        problem = (f"The what-if needs a name of its own: {base.name} is the baseline's. "
                   + (problem or ""))
    left, right = st.columns([3, 2])
    with left:
        st.code(text, language="yaml", wrap_lines=True)
    with right:
        if problem:
            st.error(problem, icon="⚠️")
        else:
            st.success("The what-if is valid: the scenario loader accepts it as it is.")
        st.download_button("Download the what-if (YAML)", text, file_name=f"{c.name}.yaml",
                           mime="application/x-yaml", key="download_yaml")
        clicked = st.button("Run the comparison", type="primary", key="run")
    if clicked:
        if problem or whatif is None:
            st.error("Nothing was run: correct the what-if first.", icon="🛑")
            return
        _submit(c, base, whatif, options, root, text)


def _same(a: Controls, b: Controls) -> bool:
    """Whether two sets of controls give the same what-if (names aside)."""
    skip = {"name", "description", "preset"}
    return all(getattr(a, f.name) == getattr(b, f.name)
               for f in dataclasses.fields(a) if f.name not in skip)


def _submit(c: Controls, base: Scenario, whatif: Scenario, options: RunOptions, root: Path,
            text: str) -> None:
    """Queue the run (its folder's copy of the what-if written first: the same question
    has the same text) and remember it, with the what-if ``text`` to download."""
    units = ui_controls.expected_units(base, Path(c.base_file), options)
    p = plan(c, base, whatif, options, root, workers(), units)
    write_whatif(p)
    job = job_queue().submit(p.key, p.folder, p.argv, p.units, owner=_session())
    st.session_state.update({"job": job.key, "job_whatif": text, "job_name": c.name})


def _command(c: Controls, options: RunOptions) -> str:
    return reproduce_command(c.base_file, c.name, options)
