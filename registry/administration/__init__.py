"""Administration: directorates and staff accounts, managed by administrators; every change is audited.

Administrators manage people; process analysts own the process files (registry.process_catalogue.EDITORS).
"""
