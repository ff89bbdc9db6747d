"""Sphinx configuration of graphmeta's documentation site (`make docs`)."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import graphmeta  # noqa: E402

project = "graphmeta"
author = "graphmeta developers"
release = graphmeta.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "gallery/*.md5", "gallery/*.json", "gallery/*.zip",
                    "gallery/*.py", "gallery/*.ipynb"]

# The API reference: every public name of each public module, with its
# docstring (Google style, as PyG writes them).
autosummary_generate = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autosummary_imported_members = True
# Names a package re-exports from another documented one (for plug-in
# authors' imports): their page says where they are documented instead of
# describing them twice.
autosummary_context = {"aliases": ["graphmeta.methods.ModelSettings"]}
autosummary_ignore_module_all = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# The examples, executed at build time with their output. They read the
# dataset mirror when GRAPHMETA_DATA points at one (make docs sets it).
# custom_method.py (a 300-iteration compare, about 80 s) exits only on a
# failure: a sys.exit(0) there would end the build itself.
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "gallery",
    "filename_pattern": (r"/(quickstart|custom_loader|classic_maml|custom_encoder"
                         r"|custom_method)\.py$"),
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "plot_gallery": os.environ.get("GRAPHMETA_DOCS_RUN_EXAMPLES", "1") == "1",
}

html_theme = "furo"
html_title = f"graphmeta {release}"
nitpicky = False


def _dataset_page(app) -> None:
    """``datasets.md``, rendered from the dataset cards (package data), so
    the site's table is the one `graphmeta datasets` reads."""
    from graphmeta import datasets
    from graphmeta.datasets.download import card
    lines = ["# Datasets", "",
             "Every registered dataset, from its card "
             "(`graphmeta/datasets/cards/<name>.yaml`): where its files come from, "
             "its licence and citation, and the counts the loader is tested against. "
             "A dataset missing from your mirror (`GRAPHMETA_DATA`) is downloaded "
             "from the card's address and checked against its sha256.", "",
             "| name | format | nodes | edges | targets | licence |", "|---|---|---|---|---|---|"]
    cites = []
    for name in datasets.names():
        c = card(name)
        if c is None:
            continue
        n = c.counts
        targets = (f"{n['interests']} interests" if "interests" in n
                   else f"{n['classes']} classes" if "classes" in n else "-")
        lines.append(f"| [{name}]({c.meta.get('page', '')}) | {c.meta.get('format', '?')} | "
                     f"{n.get('nodes', '-')} | {n.get('edges', '-')} | {targets} | "
                     f"{c.meta.get('licence', '-')} |")
        cites.append(f"- **{name}**: {c.meta.get('citation', '-')}")
    lines += ["", "## Citations", ""] + cites + [""]
    (Path(app.srcdir) / "datasets.md").write_text("\n".join(lines))


def setup(app):
    app.connect("builder-inited", _dataset_page)
