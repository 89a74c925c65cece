"""Job parameters rendered from the alert with Jinja2's sandbox; a missing variable is an error."""

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

_ENV = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
)

# Variables every template can use; README's configuration reference documents each.
VARIABLES = (
    "labels",
    "annotations",
    "status",
    "starts_at",
    "ends_at",
    "fingerprint",
    "generator_url",
    "value",
    "dispatch_id",
    "route",
    "receiver",
    "external_url",
    "group_key",
)


class TemplateError(ValueError):
    """A template failed to compile or to render; the message names the setting."""


class Template:
    """One compiled template: ``Template("{{ labels.model }}", "parameters.MODEL").render(ctx)``."""

    def __init__(self, source: str, where: str) -> None:
        self.source = source
        self.where = where
        try:
            self._template = _ENV.from_string(source)
        except TemplateSyntaxError as err:
            raise TemplateError(f"{where}: template syntax error: {err.message}") from None

    def render(self, variables: Mapping[str, Any]) -> str:
        """Render with ``variables``; TemplateError names the setting and what was missing."""
        try:
            return self._template.render(variables)
        except UndefinedError as err:
            raise TemplateError(
                f"{self.where}: {err.message} (template {self.source!r}; available: "
                f"{', '.join(sorted(variables))})"
            ) from None
        except SecurityError as err:
            raise TemplateError(f"{self.where}: not allowed in a template: {err}") from None
        except Exception as err:  # a filter or test raising on the alert's data
            raise TemplateError(f"{self.where}: {type(err).__name__}: {err}") from None

    def __repr__(self) -> str:
        return f"Template({self.source!r})"


def render_all(templates: Mapping[str, Template], variables: Mapping[str, Any]) -> dict[str, str]:
    """Render each template of a mapping."""
    return {name: template.render(variables) for name, template in templates.items()}
