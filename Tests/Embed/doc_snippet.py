"""Runs the Python (ctypes) example of Docs/ARCHITECTURE.md as written, with this run's library, state directory,
code and the device's address put in place of the example's (EmbeddingTests), so the example cannot go stale.

    doc_snippet.py <ARCHITECTURE.md> <libsdpair.so> <state-dir> <code> <peer multiaddr>
"""
import re
import sys

doc, library, state, code, peer = sys.argv[1:6]
snippet = re.search(r"```python\n(.*?)```", open(doc).read(), re.S).group(1)
for old, new in [
    ('ctypes.CDLL("libsdpair.so")', f"ctypes.CDLL({library!r})"),
    ('b"/home/me/.local/state/sd-pair"', repr(state.encode())),
    ('b"name = Laptop\\n"', 'b"name = Doc Example\\nno-mdns = true\\n"'),
    ("code.encode(), None", "code.encode(), peer.encode()"),
]:
    if old not in snippet:
        sys.exit(f"doc_snippet: the example no longer contains {old}")
    snippet = snippet.replace(old, new)
exec(snippet, {"code": code, "peer": peer})
