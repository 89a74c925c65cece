"""Templates in target settings: compiled when the config loads, rendered per dispatch.

A syntax error is a config problem (recorded on the key); a missing variable fails that dispatch
with ``INVALID_REQUEST``. URL paths may hold templated segments (:class:`PathTemplate`). The HTTP
plumbing (settings, base URLs, credentials) is in :mod:`bridge.targets.http`.
"""

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from bridge.config_reader import Reader
from bridge.targets.base import invalid
from bridge.templating import Template, TemplateError

_TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%|\{#")


def is_templated(text: str) -> bool:
    """True when ``text`` contains template syntax."""
    return bool(_TEMPLATE_SYNTAX.search(text))


def compile_template(reader: Reader, key: str, source: str) -> Template | None:
    """Compile ``source`` read from ``key``; a syntax error is recorded as a problem."""
    try:
        return Template(source, reader.key_path(key))
    except TemplateError as err:
        reader.problem(key, str(err).split(": ", 1)[-1])
        return None


def render(template: Template, variables: Mapping[str, Any]) -> str:
    """Render a target-level template; a failure makes the dispatch invalid."""
    try:
        return template.render(variables)
    except TemplateError as err:
        raise invalid(str(err)) from None


class PathTemplate:
    """A URL path whose segments may be templates.

    A segment holding a template is URL-encoded as a whole once rendered (``quote(safe="")``), so
    alert data can never add path segments, a query or a dot-segment.
    """

    def __init__(self, segments: list[Template | str], encode_literals: bool) -> None:
        self.segments = segments
        # Jenkins job names are names, not URL text: they are encoded too.
        self.encode_literals = encode_literals

    @classmethod
    def parse(
        cls, reader: Reader, key: str, path: str, encode_literals: bool = False
    ) -> "PathTemplate | None":
        """Split ``path`` on ``/`` and compile each templated segment; problems are recorded."""
        segments: list[Template | str] = []
        ok = True
        for index, part in enumerate(path.split("/")):
            if not is_templated(part):
                segments.append(part)
                continue
            template = compile_template(reader, key, part)
            if template is None:
                ok = False
            else:
                template.where = f"{reader.key_path(key)} (segment {index + 1})"
                segments.append(template)
        return cls(segments, encode_literals) if ok else None

    def render(self, variables: Mapping[str, Any]) -> list[str]:
        """The encoded segments for ``variables``."""
        rendered = []
        for segment in self.segments:
            if isinstance(segment, str):
                rendered.append(quote(segment, safe="") if self.encode_literals else segment)
                continue
            text = render(segment, variables)
            if text in ("", ".", ".."):
                raise invalid(f"{segment.where}: rendered as {text!r}, which is not a path segment")
            rendered.append(quote(text, safe=""))
        return rendered
