"""The admin site's own pages: the dashboard as its index, and a login page that keeps "next"
and tells an account without staff status so (not "wrong password")."""

from django.contrib import admin

from reserve.access.login import ReserveAdminLoginForm

admin.site.index_template = "reserve/admin/dashboard.html"
admin.site.index_title = "Dashboard"
admin.site.login_template = "reserve/admin/login.html"
admin.site.login_form = ReserveAdminLoginForm
