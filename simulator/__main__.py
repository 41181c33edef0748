"""Run the simulator on its own, as a separate "LINE" for a desk elsewhere.

    python -m simulator --port 8100 --channel-secret S --access-token T \\
        --webhook-url http://127.0.0.1:8000/callback

Then point the desk's LINE_API_HOST and LINE_DATA_API_HOST at
`http://127.0.0.1:8100/simulator/line`. Integration tests run it this way.
"""

import argparse
import logging
import os
import sys

from flask import Flask, redirect
from werkzeug.serving import make_server

import simulator
from simulator.state import Settings, plan_limit

log = logging.getLogger(__name__)

#: Uploads from the phone page (LINE's own limit for images is far larger).
MAX_BODY = 12 * 1024 * 1024


def create_app(settings: Settings) -> Flask:
    """A Flask app serving only the simulator."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    simulator.mount(app, simulator.build(settings))
    app.add_url_rule("/", "root", lambda: redirect("/simulator"))
    return app


def _plan(value: str):
    try:
        plan_limit(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return int(value) if value.isdigit() else value


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m simulator", description="A stand-in for the LINE platform."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument(
        "--channel-secret",
        default=os.environ.get("LINE_CHANNEL_SECRET", ""),
        help="signs webhooks (default: $LINE_CHANNEL_SECRET)",
    )
    parser.add_argument(
        "--access-token",
        default=os.environ.get("LINE_CHANNEL_ACCESS_TOKEN", ""),
        help="the bearer token API calls must carry "
        "(default: $LINE_CHANNEL_ACCESS_TOKEN)",
    )
    parser.add_argument("--webhook-url", default="http://127.0.0.1:8000/callback")
    parser.add_argument(
        "--plan",
        type=_plan,
        default="communication",
        help="communication (200), light (5000), standard (30000), unlimited "
        "or a number of messages a month",
    )
    parser.add_argument("--reply-token-ttl", type=float, default=60.0)
    parser.add_argument(
        "--redelivery-delays",
        default="1,2,4,8",
        help="seconds between webhook redeliveries, comma-separated ('' for none)",
    )
    args = parser.parse_args(argv)
    if not args.channel_secret or not args.access_token:
        parser.error("--channel-secret and --access-token are required")
    if args.reply_token_ttl <= 0:
        parser.error("--reply-token-ttl must be above 0")
    try:
        args.redelivery_delays = tuple(
            float(d) for d in args.redelivery_delays.split(",") if d.strip()
        )
    except ValueError:
        parser.error("--redelivery-delays must be numbers separated by commas")
    return args


def main(argv=None) -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    args = parse_args(argv)
    settings = Settings(
        channel_secret=args.channel_secret,
        access_token=args.access_token,
        webhook_url=args.webhook_url,
        reply_token_ttl=args.reply_token_ttl,
        plan=args.plan,
        redelivery=bool(args.redelivery_delays),
        redelivery_delays=args.redelivery_delays,
    )
    server = make_server(args.host, args.port, create_app(settings), threaded=True)
    base = f"http://{args.host}:{server.server_port}"
    print(
        f"LINE simulator on {base}\n"
        f"  phone:    {base}/simulator\n"
        f"  LINE API: {base}/simulator/line\n"
        f"  webhooks: {args.webhook_url}",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
