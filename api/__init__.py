"""The JSON API under /api/v1: one blueprint that every area adds routes to.

Areas define their routes on `bp` in a module of their own and add one import
line to `register`; `app.py` calls `register(app)` once.
"""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def register(app) -> None:
    """Import every module with routes on `bp`, then mount `bp` on `app`."""
    from api import (  # noqa: F401  (imported for their routes)
        agents_routes,
        audit_routes,
        auth,
        auth_routes,
        errors,
        events,
        openapi,
        settings_routes,
    )
    from bot import deadletters_api, quota_api, rules_api  # noqa: F401
    from handoff import api as handoff_api  # noqa: F401
    from handoff import typing as handoff_typing  # noqa: F401
    from handoff import uploads  # noqa: F401

    auth.init_app(app)
    errors.init_app(app)
    app.register_blueprint(bp)
