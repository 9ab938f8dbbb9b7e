"""Small self-contained HTML pages: a run report and an image contact sheet.

Both are single files with inline CSS and no scripts or external resources. Images are
either embedded as data URIs (the page survives being mailed or moved) or linked by a path
relative to the page. Writes are atomic.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import math
import mimetypes
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from kpdet.fileio import atomic_open

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:1.5em;margin:0 0 4px}h2{font-size:1.15em;margin:28px 0 8px}
.sub{color:#666;font-size:.9em;margin-bottom:16px}
table{border-collapse:collapse;background:#fff;font-size:.92em}
th,td{border:1px solid #ddd;padding:4px 10px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f0f0f0}
figure{margin:0 0 18px}figure img{max-width:100%;border:1px solid #ccc;background:#fff}
figcaption{color:#555;font-size:.85em;margin-top:3px;word-break:break-all}
pre{background:#fff;border:1px solid #ddd;padding:10px;overflow:auto;font-size:.85em}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:14px}
.grid figure{background:#fff;border:1px solid #ddd;padding:6px;margin:0}
.grid figure img{border:0;width:100%;height:auto}
.sw{display:inline-block;width:.9em;height:.9em;border:1px solid #333;vertical-align:-1px;margin:0 4px 0 12px}
"""


def _page(title: str, subtitle: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
            f"<h1>{html.escape(title)}</h1><div class=\"sub\">{subtitle}</div>\n{body}\n</body></html>\n")


def _subtitle() -> str:
    from kpdet import __version__

    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return html.escape(f"kpdet {__version__} · {now}")


def image_src(path: str | os.PathLike, page: str | os.PathLike, *, embed: bool) -> str:
    """The ``src`` of an image on a page: a data URI, or a path relative to the page's folder."""
    path = Path(path)
    if embed:
        mime = mimetypes.guess_type(path.name)[0] or "image/png"
        return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    try:
        rel = os.path.relpath(path.resolve(), Path(page).resolve().parent)
    except ValueError:  # another drive on Windows
        return path.resolve().as_uri()
    return html.escape(Path(rel).as_posix(), quote=True)


def format_value(v: Any) -> str:
    """Numbers to 4 significant digits, None to a dash, containers to compact JSON."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    if hasattr(v, "item") and getattr(v, "size", 2) == 1:  # NumPy / torch scalars
        return format_value(v.item())
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, default=str)[:200]
    return str(v)


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _cell(v: Any) -> str:
    num = isinstance(v, (int, float)) and not isinstance(v, bool)
    return f'<td class="num">{html.escape(format_value(v))}</td>' if num else f"<td>{html.escape(format_value(v))}</td>"


def metrics_table(metrics: Mapping[str, Any]) -> str:
    """HTML table of a metrics dict.

    ``{name: value}`` (nested dicts flattened to ``a.b``) gives two columns, metric and value.
    ``{row: {column: value}}`` where every value is a flat dict (e.g. one row per method or
    per category) gives a wide table with the union of the inner keys as columns.
    """
    if not metrics:
        return "<p>(no metrics)</p>"
    rows = list(metrics.values())
    if all(isinstance(r, Mapping) and not any(isinstance(v, Mapping) for v in r.values()) for r in rows):
        cols: list[str] = []
        for r in rows:
            cols += [c for c in r if c not in cols]
        head = "<tr><th></th>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in cols) + "</tr>"
        body = "".join(f"<tr><th>{html.escape(str(name))}</th>" + "".join(_cell(r.get(c)) for c in cols) + "</tr>"
                       for name, r in metrics.items())
        return f"<table>{head}{body}</table>"
    flat = _flatten(metrics)
    body = "".join(f"<tr><td>{html.escape(k)}</td>{_cell(v)}</tr>" for k, v in flat.items())
    return f"<table><tr><th>metric</th><th>value</th></tr>{body}</table>"


def write_report(
    out_html: str | os.PathLike,
    title: str,
    metrics: Mapping[str, Any],
    images: Sequence[str | os.PathLike] = (),
    config_text: str | None = None,
    *,
    embed: bool = True,
    notes: str | None = None,
) -> Path:
    """Write a one-page HTML report: title, metrics table, figures, optional notes and config.

    images: PNG/JPEG files (curve plots, overlays), shown in order with their file name as
    caption; embedded as data URIs when ``embed`` (default), otherwise linked relative to
    the page. Returns the path written.
    """
    out_html = Path(out_html)
    parts = []
    if notes:
        parts.append(f"<p>{html.escape(notes)}</p>")
    parts.append("<h2>Metrics</h2>" + metrics_table(metrics))
    if images:
        figs = "".join(f'<figure><img src="{image_src(p, out_html, embed=embed)}" alt="{html.escape(Path(p).name)}">'
                       f"<figcaption>{html.escape(Path(p).name)}</figcaption></figure>" for p in images)
        parts.append(f"<h2>Figures</h2>{figs}")
    if config_text:
        parts.append(f"<h2>Configuration</h2><pre>{html.escape(config_text)}</pre>")
    with atomic_open(out_html, "w") as f:
        f.write(_page(title, _subtitle(), "\n".join(parts)))
    return out_html


def write_contact_sheet(
    out_html: str | os.PathLike,
    title: str,
    items: Sequence[tuple[str | os.PathLike, str]],
    *,
    notes: Sequence[str] = (),
    legend: Mapping[str, tuple[int, int, int]] | None = None,
) -> Path:
    """A grid of linked thumbnails: ``items`` are (image path, caption); images are linked, not embedded.

    legend: {label: RGB colour} swatches shown above the grid (e.g. the category colours).
    """
    out_html = Path(out_html)
    head = "".join(f"<p>{html.escape(n)}</p>" for n in notes)
    if legend:
        head += "<p>" + "".join(
            f'<span class="sw" style="background:rgb{tuple(int(c) for c in rgb)}"></span>{html.escape(label)}'
            for label, rgb in legend.items()) + "</p>"
    cells = []
    for path, caption in items:
        src = image_src(path, out_html, embed=False)
        cells.append(f'<figure><a href="{src}"><img src="{src}" loading="lazy" alt="{html.escape(caption)}"></a>'
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    body = head + f'<div class="grid">{"".join(cells)}</div>'
    with atomic_open(out_html, "w") as f:
        f.write(_page(title, _subtitle(), body))
    return out_html
