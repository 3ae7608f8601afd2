"""`{% htmx_scripts %}`: htmx, and in development mode a handler that shows real 5xx pages.

django-htmx's `{% htmx_script %}` adds, when DEBUG is on, its debug handler, which replaces
the whole document with every 400, 403 and 404 answer. The console answers a refused dialog
submit with the re-rendered dialog and a 4xx status, which htmx swaps into the dialog
(htmx-config in base.html); the debug handler would wipe the page instead, so development and
production would behave differently. Ours takes over only 5xx answers (Django's debug page).
"""

from django import template
from django.conf import settings
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

HTMX = "django_htmx/htmx-2.min.js"  # the htmx that django-htmx ships (no CDN)
DEV_ERRORS = "js/dev-errors.js"


@register.simple_tag(takes_context=True)
def htmx_scripts(context: template.Context) -> SafeString:
    nonce = context.get("csp_nonce", "")
    tag = '<script src="{}" defer nonce="{}"></script>'
    html = format_html(tag, static(HTMX), nonce)
    if settings.DEBUG:
        html += format_html(tag, static(DEV_ERRORS), nonce)
    return html
