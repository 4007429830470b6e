"""What the signed-in person may do with a project, for templates: ``{% project_access project as can %}``."""

from django import template

from accounts.roles import allowed_pages

register = template.Library()


@register.simple_tag(takes_context=True)
def project_access(context, project) -> dict[str, bool]:
    """``can.merge``, ``can.review``, ``can.settings``...: from the role table, without a query."""
    return allowed_pages(context["user"], project)
