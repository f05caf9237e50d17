"""The admin site's own pages: the dashboard as its index, and a login page that keeps "next"."""

from django.contrib import admin

admin.site.index_template = "reserve/admin/dashboard.html"
admin.site.index_title = "Dashboard"
admin.site.login_template = "reserve/admin/login.html"
