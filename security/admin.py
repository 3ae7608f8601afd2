"""The Django admin is where support staff sign in; their work happens on /staff/ pages.

No tenant model is registered here: staff must not browse operators' data through the
admin. Staff see an operator's account only through /staff/ while its root has granted
support access, and every such view is audited (security/support.py).
"""

from django.contrib import admin

from security import support  # noqa: F401  (connects the staff sign-in/out audit receivers)

admin.site.site_header = "Latchkey installation"
admin.site.site_title = "Latchkey admin"
admin.site.index_title = "Support staff"
# "View site" in the admin header leads staff to their own pages.
admin.site.site_url = "/staff/"
