"""The page's answer: the run's place in the queue or its progress, then the judgement
warnings, the plain-English answer, the metric cards, the headline table, the charts and
the downloads, all drawn from the tables the run wrote."""

from __future__ import annotations

import base64
import time
from typing import Any

import pandas as pd
import streamlit as st
from streamlit import runtime

from .answer import Answer, load_answer, tables_zip
from .jobs import Job, JobQueue

POLL_SECONDS = 0.5


@st.cache_resource(max_entries=16)
def _answer(folder: str) -> Answer:
    """A finished run's answer (read and drawn once per server)."""
    return load_answer(folder)


def image(img: Any) -> None:
    """A chart with its alt text (a report :class:`~sim.analysis.report_format.Image`)."""
    st.markdown(f'<img src="{img.src}" alt="{img.alt}" style="max-width:100%">',
                unsafe_allow_html=True)


def image_bytes(img: Any) -> bytes:
    """The bytes of a chart held as a ``data:`` URI."""
    return base64.b64decode(img.src.split(",", 1)[1])


def wait(q: JobQueue, job: Job, workers: int) -> None:
    """Show the job's place in the queue or its progress (with time left) until it stops."""
    slot = st.empty()
    while not job.finished:
        with slot.container():
            if job.state == "queued":
                ahead = q.ahead(job)
                st.info(f"Queued: {ahead} run(s) ahead of yours. This page runs one "
                        f"comparison at a time, on {workers} worker process(es), so runs "
                        "from other tabs wait their turn; yours starts when they finish.",
                        icon="⏳")
            else:
                left = job.seconds_left()
                eta = f"about {left:.0f} s left" if left is not None else "starting"
                st.progress(job.fraction(),
                            text=f"Running: {100 * job.fraction():.0f}% done, {eta}")
        time.sleep(POLL_SECONDS)
    slot.empty()


def show(q: JobQueue, key: str | None, workers: int) -> None:
    """The answer to the run ``key`` (waiting for it first), if there is one."""
    job = q.jobs.get(key) if key else None
    if job is None:
        return
    st.divider()
    st.header("5. The answer")
    wait(q, job, workers)
    if job.state == "failed":
        st.error(f"The run failed; its messages end:\n\n{job.message}", icon="🛑")
        return
    if job.state == "cancelled":
        st.warning(f"The run was {job.message or 'cancelled'}.")
        return
    a = _answer(str(job.folder))
    if st.session_state.get("drivers") != a.drivers:
        st.session_state["drivers"] = a.drivers
        if runtime.exists():  # draw the page again, the drivers marked in the assumptions
            st.rerun()  # (not under AppTest, whose threads have no runtime to rerun)
    took = f"{job.seconds:.0f} s" if job.seconds is not None else "earlier (kept)"
    st.caption(f"Answered in {took}; run folder {job.folder.name}.")
    _judgements(a.context)
    if a.context["answer"].get("assumed"):
        st.info("**Assumed for both scenarios** (not varied in the checks or the parameter "
                "sets):\n\n" + "\n".join(f"- {x}" for x in a.context["answer"]["assumed"]))
    _plain_answer(a)
    _cards(a)
    _headline(a.context["headline"])
    _charts(a.context)
    _downloads(a)


def _judgements(ctx: dict[str, Any]) -> None:
    if ctx["judgements"]:
        st.warning("**This answer rests on a judgement.** If the judgement is wrong, the "
                   "answer can change:\n\n" + "\n".join(f"- {w}" for w in ctx["judgements"]),
                   icon="⚠️")


def _plain_answer(a: Answer) -> None:
    ans = a.context["answer"]
    option = ans["options"][0]
    lines = [f"- **{k['label']}:** {k['base']} → {k['alt']} ({k['diff']}, 95% interval "
             f"{k['interval']})" for k in option["key_numbers"]]
    st.markdown(f"**{a.context['title']}**, compared with {ans['base']}:\n\n"
                + "\n".join(lines))
    st.markdown("\n".join(s if s.endswith(":") else f"- {s}" for s in option["sentences"]))
    st.caption(ans["period"])
    for note in ans["notes"]:
        st.caption(note)


def _cards(a: Answer) -> None:
    cols = st.columns(4)
    for i, card in enumerate(a.cards):
        with cols[i % 4], st.container(border=True):
            st.markdown(f"**{card['label']}**")
            st.markdown(f"{card['base']} → {card['alt']}")
            st.markdown(f"### {card['diff']}")
            st.caption(f"95% interval from replications: {card['interval']}")
            if card["ui"] != "–":
                st.caption(f"95% uncertainty interval over parameter sets: {card['ui']}; "
                           f"better in {card['better']} of them")
            else:
                st.caption("Uncertainty interval: none (no parameter sets drawn; see "
                           "Runs)")


def _headline(h: dict[str, Any]) -> None:
    st.subheader("Headline measures")
    titles = [c["title"] + (f" ({c['sub']})" if c.get("sub") else "") for c in h["head"]]
    rows = []
    for r in h["rows"]:
        cells = [c["main"] + (f" ({c['sub']})" if c.get("sub") else "") for c in r["cells"]]
        rows.append([r["label"], *cells])
    st.dataframe(pd.DataFrame(rows, columns=["Measure", *titles]), hide_index=True)
    for note in h["notes"]:
        st.caption(note)


def _charts(ctx: dict[str, Any]) -> None:
    st.subheader("The differences")
    image(ctx["differences"])
    st.subheader("What drives this answer")
    shown = [d for d in ctx["drivers"] if d.get("chart")]
    if not shown:
        st.caption("No judgement checks were run (turn them on under Runs), or none "
                   "moves the answer.")
    for d in shown:
        image(d["chart"])
    with st.expander("Trends over the years (with 95% bands)"):
        for img in ctx["trends"]:
            image(img)


def _downloads(a: Answer) -> None:
    st.subheader("Downloads")
    cols = st.columns(4)
    with cols[0]:
        st.download_button("Report (HTML)", a.report.read_bytes(), file_name="report.html",
                           mime="text/html", key="download_report")
    with cols[1]:
        if a.pdf is not None:
            st.download_button("Report (PDF)", a.pdf.read_bytes(), file_name="report.pdf",
                               mime="application/pdf", key="download_pdf")
    with cols[2]:
        whatif = st.session_state.get("job_whatif", "")
        name = st.session_state.get("job_name", "what_if")
        st.download_button("What-if (YAML)", whatif, file_name=f"{name}.yaml",
                           mime="application/x-yaml", key="download_run_yaml")
    with cols[3]:
        st.download_button("Tables (CSV, zip)", tables_zip(a), file_name="tables.zip",
                           mime="application/zip", key="download_tables")
