"""Access: roles (Django groups and their permissions) and two-factor login."""
