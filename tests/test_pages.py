"""One page writer: pages kept together link one shared plotly.js, a page on its own embeds it."""

import plotly.graph_objects as go

from analysis.pages import PLOTLY_FILE, write_figures_page


def figures():
    return [go.Figure(go.Scatter(x=[0, 1], y=[1, 0], name="first")), go.Figure(go.Bar(x=["a"], y=[2], name="second"))]


def test_pages_in_a_folder_link_one_shared_script(tmp_path):
    first = write_figures_page(tmp_path / "one" / "a.html", figures(), "a", shared_script=tmp_path)
    second = write_figures_page(tmp_path / "two" / "deeper" / "b.html", figures()[:1], "b", shared_script=tmp_path)
    assert "src='../plotly.min.js'" in first.read_text()
    assert "src='../../plotly.min.js'" in second.read_text()
    assert (tmp_path / PLOTLY_FILE).stat().st_size > 1_000_000
    assert first.stat().st_size < 100_000 and first.read_text().count("Plotly.newPlot") == 2


def test_a_page_on_its_own_embeds_the_script_once(tmp_path):
    page = write_figures_page(tmp_path / "page.html", figures(), "alone")
    text = page.read_text()
    assert page.stat().st_size > 1_000_000 and "<title>alone</title>" in text
    assert text.count("Plotly.newPlot") == 2 and "src='" not in text
    assert not (tmp_path / PLOTLY_FILE).exists()
