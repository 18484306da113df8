"""The picture as a JupyterLab widget, with the standalone page as its static fallback.

:class:`TraceWidget` is an `anywidget <https://anywidget.dev>`_: its front end is ``pictures.js``
itself, so the notebook, the feedback pages and the site draw with the same code. The model holds
the same payload a page holds (uncompressed: it travels over the kernel's connection, not the
network), plus a few numbers a notebook or a test can read back (``arrows``, ``drops``) and the
message a student clicked (``selected``).

A notebook rendered without a kernel (the course site built by mkdocs-jupyter, nbviewer, GitHub)
cannot run widgets: their HTML manager would be fetched from a CDN, which the site does without.
So the widget's display bundle also carries the standalone page in an ``<iframe srcdoc>`` as
``text/html``: JupyterLab shows the live widget, a static page the picture, offline. When the
notebook is being executed to build static pages (see :mod:`labs.pictures.display`), the bundle
holds the page only and the payload is not synced, so that the page is not weighed down by a copy
of the data in the notebook's widget state.
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets

from .display import live_widgets
from .html import iframe_html, js_source
from .picture import Picture
from .source import Source, picture_of

# pictures.js defines DSPictures on globalThis; the module below hands it the widget's element.
ESM_TAIL = """
export default {
  render({ model, el }) {
    const onSelect = (sel) => { model.set("selected", sel || {}); model.save_changes(); };
    let picture = globalThis.DSPictures.render(el, model.get("data"), { onSelect });
    const redraw = () => {
      picture.destroy();
      picture = globalThis.DSPictures.render(el, model.get("data"), { onSelect });
    };
    model.on("change:data", redraw);
    return () => { model.off("change:data", redraw); picture.destroy(); };
  },
};
"""

STATIC_ESM = "export default { render() {} };"


class TraceWidget(anywidget.AnyWidget):
    """A run's space-time diagram and dashboard, live in JupyterLab.

    ``TraceWidget(result)`` takes a :class:`~labs.runtime.lab.RunResult`, a list of trace events,
    the path of a trace file or a :class:`~labs.pictures.picture.Picture`; :meth:`show` draws
    another run in the same widget.
    """

    _esm = js_source() + ESM_TAIL

    data = traitlets.Dict().tag(sync=True)
    """The payload ``pictures.js`` draws (see :meth:`Picture.to_payload`)."""
    title = traitlets.Unicode("").tag(sync=True)
    arrows = traitlets.Int(0).tag(sync=True)
    """How many message arrows the diagram holds (one per copy of a message)."""
    drops = traitlets.Int(0).tag(sync=True)
    """How many of them end in a drop mark."""
    selected = traitlets.Dict().tag(sync=True)
    """The message last clicked in the diagram (id, type, src, dst, times, body); empty if none."""

    def __init__(self, source: Source, **kwargs: Any) -> None:
        if not live_widgets():
            kwargs.setdefault("_esm", STATIC_ESM)  # no front end will run it: keep pages light
        super().__init__(**kwargs)
        self.picture: Picture
        self.show(source)

    def show(self, source: Source, title: str | None = None) -> None:
        """Draw ``source`` instead of what the widget shows now."""
        picture = picture_of(source, title)
        self.picture = picture
        with self.hold_sync():
            self.title = picture.title
            self.arrows = picture.arrows
            self.drops = picture.drops
            self.selected = {}
            self.data = picture.to_payload() if live_widgets() else {}

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return with_static_html(super()._repr_mimebundle_(**kwargs), self.picture)


def with_static_html(bundle: Any, picture: Picture) -> tuple[dict[str, Any], dict[str, Any]]:
    """A widget's display bundle (``data`` or ``(data, metadata)``, as ipywidgets and anywidget
    give it) plus the standalone page as ``text/html``; only the page when the output is headed
    for a static page (where the widget view would show as an empty box)."""
    if isinstance(bundle, tuple):
        data, metadata = dict(bundle[0]), dict(bundle[1])
    else:
        data, metadata = dict(bundle or {"text/plain": picture.title}), {}
    if not live_widgets():
        data = {k: v for k, v in data.items() if k == "text/plain"}
    data["text/html"] = iframe_html(picture)
    return data, metadata
