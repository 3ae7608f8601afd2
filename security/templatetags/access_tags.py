"""`{% allowed "route" name=value as ok %}`: may the signed-in principal use that console page?

Decided by the page's own `console_action` check (security.access.WriteControls), so that a
link is shown exactly when following it would not be refused.
"""

from django import template

from security.access import WriteControls

register = template.Library()


@register.simple_tag(takes_context=True)
def allowed(context, route: str, **path: object) -> bool:
    request = context["request"]
    controls = context.get("_write_controls")
    if controls is None:  # one policy version read per page
        controls = context["_write_controls"] = WriteControls(request)
    return controls.reason(route, **path) == ""
