"""Personal data: export, forget and retention, driven by a registry that each
feature fills with its own tables (issue 9)."""
