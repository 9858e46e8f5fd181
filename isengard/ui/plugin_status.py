"""One line saying whether a plugin can run now (shown beside the backend choices); the technical reason
(an address, a setting's name) sits behind "Details"."""

from __future__ import annotations

import html

from isengard.ui.job_views import details_html


def status_html(ctx, kind: str, name: str, elem_id: str) -> str:
    plugin = ctx.registry.get(kind, name)
    avail = plugin.availability()
    css = "isg-ok" if avail.ok else "isg-bad"
    state = "ready" if avail.ok else "not available right now"
    return (
        f'<span class="{css}" id="{elem_id}" data-reason="{html.escape(avail.reason)}">'
        f"{html.escape(plugin.label)}: {state}</span>{details_html(avail.reason)}"
    )
