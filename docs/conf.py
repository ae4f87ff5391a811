"""Sphinx configuration for the trio_httpcore documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html``
(the ``docs`` nox session): any warning fails the build.
"""

from __future__ import annotations

import os
import sys

# Document the package from this checkout, installed or not; _ext holds our own checks.
sys.path.insert(0, os.path.abspath(".."))
sys.path.insert(0, os.path.abspath("_ext"))

import trio_httpcore

project = "trio_httpcore"
author = "the trio_httpcore developers"
copyright = "2026, the trio_httpcore developers"
release = trio_httpcore.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.graphviz",
    "sphinx.ext.viewcode",
    "tablecheck",  # _ext/tablecheck.py: a table with rows split mid-sentence is a warning
]
# The diagrams (design, concurrency, blocking API pages) are drawn at build time
# by Graphviz's `dot` (Debian: apt-get install graphviz), offline, as SVG.
graphviz_output_format = "svg"
graphviz_dot_args = ["-Gfontname=sans-serif", "-Nfontname=sans-serif", "-Efontname=sans-serif"]
# No sphinx.ext.intersphinx: CI machines have no internet, so the trio and
# Python inventories cannot be fetched, and with -W the failed fetch is a
# warning that fails the build. Links to trio and the stdlib are plain URLs.

root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

# Unresolved cross-references are not warnings (nitpicky off): the guides may
# name parts of the contract (API.md) that have not landed in the code yet.
nitpicky = False
default_role = "code"
# Every page resolves :class:`AsyncClient` and friends against the package,
# so the guides link to the API reference without spelling the module out.
rst_prolog = """
.. currentmodule:: trio_httpcore
"""
highlight_language = "python3"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {
    "show-inheritance": True,
}
autoclass_content = "both"
# Long signatures (the client's parameters) are shown one parameter a line.
# (autodoc_type_aliases would shorten them, but Sphinx 9 renders an alias in
# a union as "TypeAliasForwardRef('...')", so the types are left expanded.)
maximum_signature_line_length = 90

# furo: a maintained theme with a wide content column (long signatures and code
# blocks are not cut off), light and dark modes, and no web fonts or CDN: it
# works offline.
html_theme = "furo"
html_static_path: list[str] = []
html_title = f"trio_httpcore {release}"
