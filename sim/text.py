"""Text that is safe to print: the one home for escaping what users wrote."""

from __future__ import annotations

import unicodedata

__all__ = ["printable"]


def printable(text: object) -> str:
    """``text`` with control and format characters (terminal escapes, NUL, carriage
    returns, bidirectional overrides, line separators) shown escaped, e.g. ESC as
    ``\\x1b``: safe to print to a terminal. Newlines and tabs are kept."""
    out = []
    for ch in str(text):
        if ch in "\n\t" or ch == "\ufeff" or \
                unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"):
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)
