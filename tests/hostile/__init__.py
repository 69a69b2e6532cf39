"""Every attack the project knows, in one place: ``pytest -m hostile`` runs them all.

This folder holds the cases found from outside and the fuzz tests; the older
hostile-feed and hostile-web tests carry the same marker where they live.
"""
