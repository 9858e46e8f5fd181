"""One line saying whether a plugin can run now, and why (shown beside the backend choices)."""

from __future__ import annotations

import html


def status_html(ctx, kind: str, name: str, elem_id: str) -> str:
    plugin = ctx.registry.get(kind, name)
    avail = plugin.availability()
    css = "isg-ok" if avail.ok else "isg-bad"
    return (
        f'<span class="{css}" id="{elem_id}">{html.escape(plugin.label)}: {html.escape(avail.reason)}</span>'
    )
