"""A stand-in for the LINE platform, for development and tests only.

`init_app(app, config)` mounts it in the desk when `config.simulator` is
True (development with no LINE credentials): LINE's Messaging API under
`/simulator/line`, the control API under `/simulator/api` and the phone page
at `/simulator`. In production it is never mounted, so its routes do not
exist. `python -m simulator` runs it on its own (see `simulator.__main__`).
"""

import inspect
import logging

from flask import Blueprint, Flask

from simulator import control, line_api, phone
from simulator.state import Settings, Simulator
from simulator.webhooks import WebhookSender

log = logging.getLogger(__name__)

bp = Blueprint("simulator", __name__, url_prefix="/simulator")
bp.register_blueprint(line_api.bp)
bp.register_blueprint(control.bp)
bp.register_blueprint(phone.bp)


def build(settings: Settings) -> Simulator:
    """A simulator with its webhook sender (started on the first webhook)."""
    sim = Simulator(settings)
    sim.webhooks = WebhookSender(sim)
    return sim


def mount(app: Flask, sim: Simulator) -> Simulator:
    """Serve `sim` from `app` (the desk or the standalone app)."""
    app.extensions["simulator"] = sim
    app.register_blueprint(bp)
    return sim


def init_app(app: Flask, config) -> Simulator | None:
    """Mount the simulator when `config.simulator` is on; never in production.

    It shares the desk's channel secret and access token, and sends its
    webhooks to this app's own `/callback`.
    """
    if not config.simulator:
        return None
    if config.env == "production":
        log.error("simulator: refused to mount in a production configuration")
        return None
    settings = Settings(
        channel_secret=config.line_channel_secret,
        access_token=config.line_channel_access_token,
        webhook_url=f"http://127.0.0.1:{config.port}/callback",
    )
    sim = mount(app, build(settings))
    _mark_public(app)
    log.info("simulator: mounted at /simulator, webhooks to %s", settings.webhook_url)
    return sim


def _mark_public(app: Flask) -> None:
    """Tell the desk's URL-map check that these views need no login.

    They exist only in development, where there is no one to log in as yet.
    """
    try:
        from api.auth import public
    except ImportError:
        log.info("simulator: no api.auth in this desk; views left unmarked")
        return
    for endpoint, view in app.view_functions.items():
        # Bound methods (the static files view) take no marks; they are public
        # by their endpoint name.
        if endpoint.startswith("simulator.") and inspect.isfunction(view):
            public(view)
