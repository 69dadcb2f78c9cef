"""Pictures of hierarchies and located sets (drawn off-screen)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

import pytest  # noqa: E402

from mae_hlvm.hierarchy import (draw_hierarchy, draw_quadtree_located, html_table, locate,  # noqa: E402
                                locate_quadtree, note_tree)


def test_draw_hierarchy_marks_masked_pixels():
    g = note_tree()
    found = locate(g, {"x5", "x6"})
    fig, ax = plt.subplots()
    draw_hierarchy(g, ax, masked={"x5", "x6"}, c=found.c, common=found.common, title="t")
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("×") == 2 and "z3" in texts and len(texts) == g.number_of_nodes()
    assert ax.get_title() == "t"
    plt.close(fig)


def test_draw_quadtree_located_outlines_every_c_block():
    mask = np.zeros((8, 8), dtype=bool)
    mask[:4, :4] = True
    mask[0, 7] = True
    q = locate_quadtree(mask)
    fig, ax = plt.subplots()
    draw_quadtree_located(mask, [c[0] for c in q.c], ax)
    rects = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(rects) == int(q.size_c()[0])
    plt.close(fig)


def test_html_table_escapes_and_checks_width():
    out = html_table(["a", "b"], [["<x>", ("b", "{z1}")]]).data
    assert "<td>&lt;x&gt;</td>" in out and "<td><b>{z1}</b></td>" in out and "<th>a</th>" in out
    with pytest.raises(ValueError, match="row 0 has 1 cells"):
        html_table(["a", "b"], [["only"]])
