import base64
from html.parser import HTMLParser

import numpy as np

from kpdet.data.images import write_image
from kpdet.viz.report import format_value, metrics_table, write_contact_sheet, write_report


class _Collect(HTMLParser):
    """Collects tags and checks that every opened non-void element is closed in order."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.tags, self.imgs, self.errors = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(dict(attrs)["src"])
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def _parse(path):
    p = _Collect()
    p.feed(path.read_text(encoding="utf-8"))
    assert not p.errors and not p.stack
    return p


def test_report_is_valid_html_with_table_images_and_config(tmp_path):
    img = tmp_path / "figs" / "overlay.png"
    write_image(img, np.full((20, 30, 3), 200, np.uint8))
    out = write_report(tmp_path / "report.html", "Run <demo> & co", {"AP": 0.51234, "AR": 0.6, "loss": {"kpt": 1.5}},
                       [img], config_text="method:\n  name: topdown  # <tiny>")
    text = out.read_text()
    p = _parse(out)
    assert "table" in p.tags and "pre" in p.tags
    assert "Run &lt;demo&gt; &amp; co" in text and "<demo>" not in text
    assert "0.5123" in text and "loss.kpt" in text and "# &lt;tiny&gt;" in text
    (src,) = p.imgs
    assert src.startswith("data:image/png;base64,")
    assert base64.b64decode(src.split(",", 1)[1]) == img.read_bytes()


def test_report_links_images_relative_to_the_page(tmp_path):
    img = tmp_path / "figs" / "curves.png"
    write_image(img, np.zeros((4, 4, 3), np.uint8))
    out = write_report(tmp_path / "out" / "report.html", "r", {}, [img], embed=False)
    assert _parse(out).imgs == ["../figs/curves.png"]


def test_metrics_table_wide_for_rows_of_dicts():
    html = metrics_table({"topdown": {"AP": 0.7, "AR": 0.8}, "kapao": {"AP": 0.6, "fps": 30}})
    assert html.count("<tr>") == 3 and "<th>fps</th>" in html and "–" in html  # kapao has no AR


def test_format_value():
    assert format_value(0.123456) == "0.1235" and format_value(None) == "–" and format_value(3) == "3"
    assert format_value(np.float32(0.5)) == "0.5" and format_value(float("nan")) == "nan"


def test_contact_sheet(tmp_path):
    imgs = []
    for i in range(3):
        imgs.append(tmp_path / f"im{i}.jpg")
        write_image(imgs[-1], np.zeros((8, 8, 3), np.uint8))
    out = write_contact_sheet(tmp_path / "index.html", "sheet", [(p, f"image {i}") for i, p in enumerate(imgs)],
                              notes=["a note"], legend={"person": (255, 140, 0)})
    p = _parse(out)
    assert p.imgs == ["im0.jpg", "im1.jpg", "im2.jpg"]
    assert "rgb(255, 140, 0)" in out.read_text()
