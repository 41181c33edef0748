"""What agents' answers cost under each sending policy, on a replayed trace.

    .venv/bin/python -m bench.economics [--conversations 200] [--seed 7]
        [--first-answer-median 90] [--later-answer-median 30] [--write]

A trace of handed-off conversations is generated (a user follows, asks for a
person with a question, pings while waiting, reads each answer and asks the
next; agents answer after delays drawn from a log-normal distribution, with
1 to 3 bubbles per answer) and replayed, once per policy, through the desk's
real code: signed webhooks to `/callback`, the worker's job (`drain_chat`),
the worker's upkeep (acknowledgements, tap offers, held answers), and the
agents' API (claim, answer, close). LINE is the simulator's platform state
(`simulator.state.Simulator`), which keeps LINE's rules: a reply token works
once within its minute, a push is billed per request.

Everything runs in this process against fakeredis, on one virtual clock
shared by the desk and the simulator, so hours of traffic replay in seconds
and two runs with the same seed give the same table. What is not exercised:
HTTP between the desk and LINE (the simulator is called in-process), RQ's
queue round trip and several worker processes; tests/integration covers those.

Policies:
- push every message: each bubble is its own push (a peer desk's way);
- newest token only: the newest event's token, whatever its age, for the
  first bubble; everything else pushed (another peer's way);
- token pool + bundling: Tsunagi with `if_expired: push`;
- pool + hold + tap: Tsunagi holding what no token can carry, with tap to
  receive and the 30-minute bundled push for answers still held;
- free-only: Tsunagi's free-only mode.
"""

import argparse
import base64
import copy
import hashlib
import hmac
import json
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import fakeredis  # noqa: E402

from bot import ledger as L  # noqa: E402
from bot.delivery import Delivery  # noqa: E402
from bot.line_api import INVALID_REPLY_TOKEN, LineError, classify  # noqa: E402
from bot.tokens import TokenPool  # noqa: E402

SECRET = "bench-channel-secret"
TOKEN = "bench-access-token"
#: 2026-12-01 10:00 in Tokyo, a Tuesday inside business hours.
START = 1_764_550_800.0
AGENTS = ("aiko", "ben", "chika", "daiki", "emi")
PASSWORD = "bench-password-1"
BOT_ID = "U" + "0" * 32


# -- the trace ----------------------------------------------------------------


@dataclass
class TraceConfig:
    """The shape of the generated traffic (times in seconds)."""

    conversations: int = 200
    seed: int = 7
    arrival_gap: float = 30.0
    first_answer_median: float = 90.0
    later_answer_median: float = 30.0
    answer_sigma: float = 0.8
    exchanges_mean: float = 2.5
    max_bubbles: int = 3
    think_median: float = 20.0
    ping_mean: float = 60.0
    pings_before_pause: int = 3
    pause_mean: float = 600.0
    tap_median: float = 15.0
    claim_delay: float = 3.0
    leave_share: float = 0.0
    close_after: float = 120.0


@dataclass
class Exchange:
    """One question and the agent's answer to it."""

    answer_delay: float
    bubbles: int
    think: float


@dataclass
class Conversation:
    index: int
    start: float
    exchanges: list
    #: The user leaves after the last question: no pings, no taps.
    leaves: bool = False


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def generate(cfg: TraceConfig) -> list[Conversation]:
    """The trace: conversations with their exchanges, all from `cfg.seed`.

    Calibrated to the configured figures: the exchanges total exactly
    `exchanges_mean` per conversation, and each group of answer delays is
    scaled so that its median is exactly the configured one (the spread,
    `answer_sigma`, is kept).
    """
    rng = random.Random(cfg.seed)
    counts = [
        _exchange_count(rng, cfg.exchanges_mean) for _ in range(cfg.conversations)
    ]
    total = max(cfg.conversations, round(cfg.exchanges_mean * cfg.conversations))
    _calibrate_counts(rng, counts, total)
    trace, when = [], 0.0
    for index, count in enumerate(counts):
        when += rng.expovariate(1.0 / cfg.arrival_gap)
        exchanges = [
            Exchange(
                answer_delay=lognormal(rng, 1.0, cfg.answer_sigma),
                bubbles=rng.randint(1, cfg.max_bubbles),
                think=lognormal(rng, cfg.think_median, 0.5),
            )
            for _ in range(count)
        ]
        trace.append(Conversation(index, when, exchanges))
    leavers = random.Random(cfg.seed + 1)
    for conversation in trace:
        conversation.leaves = leavers.random() < cfg.leave_share
    firsts = [c.exchanges[0] for c in trace]
    laters = [e for c in trace for e in c.exchanges[1:]]
    for group, median in (
        (firsts, cfg.first_answer_median),
        (laters, cfg.later_answer_median),
    ):
        if group:
            scale = median / statistics.median(e.answer_delay for e in group)
            for exchange in group:
                exchange.answer_delay *= scale
    return trace


def _exchange_count(rng, mean) -> int:
    """Geometric on 1, 2, ... with the given mean."""
    count = 1
    while rng.random() > 1.0 / mean:
        count += 1
    return count


def _calibrate_counts(rng, counts, total) -> None:
    """Nudge random conversations by one exchange until the counts sum to `total`."""
    while sum(counts) != total:
        index = rng.randrange(len(counts))
        if sum(counts) < total:
            counts[index] += 1
        elif counts[index] > 1:
            counts[index] -= 1


def describe(trace: list[Conversation]) -> dict:
    firsts = [c.exchanges[0].answer_delay for c in trace]
    laters = [e.answer_delay for c in trace for e in c.exchanges[1:]]
    return {
        "conversations": len(trace),
        "exchanges_mean": statistics.mean(len(c.exchanges) for c in trace),
        "first_answer_median": statistics.median(firsts),
        "later_answer_median": statistics.median(laters) if laters else None,
        "bubbles": sum(e.bubbles for c in trace for e in c.exchanges),
    }


# -- LINE: the simulator's platform, in process --------------------------------


class SimulatorLine:
    """The desk's `LineClient` surface over the simulator's state object.

    Refusals become the `LineError`s `LineClient` raises for the same answer
    from LINE, so the delivery layer sees what it would see over HTTP.
    """

    def __init__(self, sim):
        self.sim = sim

    def _call(self, method, *args):
        from simulator.state import LineRefusal

        try:
            return method(*args)
        except LineRefusal as refusal:
            raise classify(
                refusal.status, json.dumps(refusal.body()), refusal.headers
            ) from None

    def reply(self, reply_token, messages):
        self._call(self.sim.reply, reply_token, messages)
        return {"x-line-request-id": ""}

    def push(self, to, messages, retry_key):
        self._call(self.sim.push, to, messages, retry_key)
        return {"x-line-request-id": ""}

    def show_loading_animation(self, chat_id, seconds):
        self._call(self.sim.show_loading, chat_id, seconds)

    def get_profile(self, user_id):
        user = self.sim.user(user_id) or {}
        return {"displayName": user.get("displayName", "")}

    def get_quota(self):
        limit = self.sim.limit
        return (
            {"type": "none"} if limit is None else {"type": "limited", "value": limit}
        )

    def get_quota_consumption(self):
        return self.sim.total_usage()


# -- the peers' ways of sending, for comparison ----------------------------------


class NewestTokens(TokenPool):
    """The pool, also remembering each chat's newest token (used or not)."""

    def __init__(self, redis, clock):
        super().__init__(redis, clock)
        self.newest = {}

    def add(self, chat_id, reply_token, deadline):
        self.newest[chat_id] = reply_token
        return super().add(chat_id, reply_token, deadline)


class PeerDelivery(Delivery):
    """Sends agents' messages as peer desks do; everything else as Tsunagi does.

    `push_each`: no token is ever used for an agent's message. `newest`: the
    newest event's token is tried once, whatever its age, then pushes.
    """

    def __init__(self, redis, line, *, mode, clock):
        super().__init__(redis, line, clock=clock)
        self.mode = mode
        self.tokens = NewestTokens(redis, clock)

    def _deliver(
        self, chat_id, messages, policy, send_id, origin, actor, reason, record
    ):
        if origin != "agent":
            return super()._deliver(
                chat_id, messages, policy, send_id, origin, actor, reason, record
            )
        if self.mode == "newest":
            token = self.tokens.newest.pop(chat_id, None)
            if token is not None:
                try:
                    self.line.reply(token, messages)
                except LineError as err:
                    if err.kind != INVALID_REPLY_TOKEN:
                        raise
                else:
                    self.redis.zrem(self.tokens._key(chat_id), token)
                    self._sent(
                        chat_id,
                        messages,
                        L.REPLY,
                        L.TOKEN_LIVE,
                        send_id,
                        origin,
                        actor,
                        record,
                    )
                    return
        self._push(chat_id, messages, send_id, origin, actor, reason, record)


# -- the replay ------------------------------------------------------------------


@dataclass
class Policy:
    name: str
    peer: str | None = None
    if_expired: str = "push"
    per_bubble: bool = False
    settings: dict = field(default_factory=dict)


POLICIES = [
    Policy(
        "push every message",
        "push_each",
        per_bubble=True,
        settings={"tap_lead_seconds": 0},
    ),
    Policy(
        "newest token only", "newest", per_bubble=True, settings={"tap_lead_seconds": 0}
    ),
    Policy("token pool + bundling", settings={"tap_lead_seconds": 0}),
    Policy(
        "pool + hold + tap",
        if_expired="hold",
        settings={
            "tap_lead_seconds": 10,
            "held_after_wait": "push",
            "held_max_minutes": 30,
        },
    ),
    Policy(
        "free-only",
        if_expired="hold",
        settings={"free_only": True, "tap_lead_seconds": 10},
    ),
]


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@dataclass
class UserState:
    conversation: Conversation
    user_id: str
    exchange: int = -1
    asked_at: float = 0.0
    waiting: bool = False
    pings: int = 0
    received: dict = field(default_factory=dict)
    seen: int = 0
    conversation_id: str | None = None
    agent: str = ""


class Replay:
    """One policy's run of the trace through an in-process desk."""

    def __init__(self, trace, cfg: TraceConfig, policy: Policy, *, http=False):
        from api.tokens import Tokens
        from app import create_app
        from bot.runtime import Runtime
        from config import Config
        from handoff.agents import Agents
        from simulator.state import Settings, Simulator

        self.cfg = cfg
        self.policy = policy
        self.clock = Clock(START)
        self.sim = Simulator(
            Settings(channel_secret=SECRET, access_token=TOKEN, plan="unlimited"),
            clock=self.clock,
        )
        config = Config(
            env="development",
            line_channel_secret=SECRET,
            line_channel_access_token=TOKEN,
            line_api_host="http://127.0.0.1:9/unused",
            secret_key="bench-secret",
            testing=True,
        )
        config.check()
        runtime = Runtime(config, server=fakeredis.FakeServer(), clock=self.clock)
        self.server = None
        line = self._serve() if http else SimulatorLine(self.sim)
        runtime.line = line
        if policy.peer:
            runtime.delivery = PeerDelivery(
                runtime.redis, line, mode=policy.peer, clock=self.clock
            )
        else:
            runtime.delivery.line = line
        self.runtime = runtime
        self.app = create_app(config, runtime=runtime, start_workers=False)
        self.app.config["TSUNAGI_CLOCK"] = self.clock
        self.client = self.app.test_client()

        agents = Agents(runtime.redis, clock=self.clock)
        self.headers = {}
        self.api_calls = 0
        for username in (*AGENTS, "boss"):
            role = "admin" if username == "boss" else "agent"
            agents.create(username, PASSWORD, role, username.title())
            issued = Tokens(runtime.redis, self.clock).issue(
                username, agents.epoch(username), 7 * 86400
            )
            self.headers[username] = {"Authorization": f"Bearer {issued['token']}"}
        self.api("put", "/settings", "boss", json=policy.settings)

        self.users = []
        for conversation in trace:
            user = self.sim.create_user(f"User {conversation.index}")
            self.users.append(UserState(conversation, user["userId"]))
        self.rng = random.Random(cfg.seed * 1000 + 1)
        self.queue = []
        self.seq = 0
        self.answers = []  # (posted_at, delivery, user, exchange)
        self.taps = 0

    # -- plumbing --------------------------------------------------------------

    def _serve(self):
        """The simulator over HTTP on a free port; the SDK client to reach it."""
        import threading

        from flask import Flask
        from werkzeug.serving import make_server

        import simulator
        from bot.line_api import LineClient

        app = Flask("bench-simulator")
        simulator.mount(app, self.sim)
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        host = f"http://127.0.0.1:{self.server.server_port}/simulator/line"
        return LineClient(TOKEN, host, timeout=10)

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server = None

    def api(self, method, path, who, **kwargs):
        self.api_calls += 1
        response = getattr(self.client, method)(
            f"/api/v1{path}", headers=self.headers[who], **kwargs
        )
        if response.status_code >= 400:
            raise RuntimeError(
                f"{method} {path}: {response.status_code} {response.json}"
            )
        return response.json

    def at(self, when, action, *args):
        import heapq

        self.seq += 1
        heapq.heappush(self.queue, (when, self.seq, action, args))

    def webhook(self, event):
        from bot import jobs

        body = json.dumps({"destination": BOT_ID, "events": [event]}).encode()
        digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
        signature = base64.b64encode(digest).decode()
        response = self.client.post(
            "/callback", data=body, headers={"X-Line-Signature": signature}
        )
        assert response.status_code == 200, response.status_code
        jobs.drain_chat(self.runtime, event["source"]["userId"])

    def upkeep(self):
        from handoff import queue as handoff_queue
        from handoff import tap

        handoff_queue.maintain(self.runtime)
        tap.upkeep(self.runtime)

    # -- what users and agents do -------------------------------------------------

    def start(self, user: UserState):
        from simulator import events

        self.webhook(events.follow(self.sim, user.user_id))

    def ask(self, user: UserState):
        from simulator import events

        user.exchange += 1
        user.asked_at = self.clock()
        user.waiting = True
        user.pings = 0
        text = f"talk to a person please (question {user.exchange})"
        if user.exchange:
            text = f"next question {user.exchange}"
        self.webhook(events.text(self.sim, user.user_id, text))
        exchange = user.conversation.exchanges[user.exchange]
        if user.exchange == 0:
            self.at(self.clock() + self.cfg.claim_delay, self.claim, user)
        self.at(self.clock() + exchange.answer_delay, self.answer, user, user.exchange)
        self.schedule_ping(user)

    def schedule_ping(self, user: UserState):
        if self.gone(user):
            return
        mean = (
            self.cfg.ping_mean
            if user.pings < self.cfg.pings_before_pause
            else self.cfg.pause_mean
        )
        self.at(
            self.clock() + self.rng.expovariate(1.0 / mean),
            self.ping,
            user,
            user.exchange,
        )

    @staticmethod
    def gone(user: UserState) -> bool:
        """True once a leaving user has asked their last question."""
        last = len(user.conversation.exchanges) - 1
        return user.conversation.leaves and user.exchange == last

    def ping(self, user: UserState, exchange: int):
        from simulator import events

        if not user.waiting or user.exchange != exchange:
            return
        user.pings += 1
        self.webhook(events.text(self.sim, user.user_id, "?"))
        self.schedule_ping(user)

    def tap(self, user: UserState, exchange: int):
        from handoff.tap import TAP_DATA
        from simulator import events

        if not user.waiting or user.exchange != exchange:
            return
        self.taps += 1
        self.webhook(
            events.postback(
                self.sim,
                user.user_id,
                TAP_DATA,
                display_text="回答を受け取る / Get the answer",
            )
        )

    def claim(self, user: UserState):
        from handoff.conversations import Conversations

        conversation = Conversations(self.runtime.redis).open_for(user.user_id)
        user.conversation_id = conversation["id"]
        user.agent = AGENTS[user.conversation.index % len(AGENTS)]
        self.api("post", f"/conversations/{user.conversation_id}/claim", user.agent)

    def answer(self, user: UserState, number: int):
        exchange = user.conversation.exchanges[number]
        bubbles = [
            {"type": "text", "text": f"[{user.conversation.index}:{number}:{b}] answer"}
            for b in range(exchange.bubbles)
        ]
        calls = [[b] for b in bubbles] if self.policy.per_bubble else [bubbles]
        path = f"/conversations/{user.conversation_id}/messages"
        for messages in calls:
            result = self.api(
                "post",
                path,
                user.agent,
                json={"messages": messages, "if_expired": self.policy.if_expired},
            )
            self.answers.append((self.clock(), result["delivery"], user, number))
        if number == len(user.conversation.exchanges) - 1:
            self.at(self.clock() + self.cfg.close_after, self.close, user)

    def close(self, user: UserState):
        self.api("post", f"/conversations/{user.conversation_id}/close", user.agent)

    def presence(self):
        for username in AGENTS:
            self.api("get", "/conversations?assignee=me", username)

    # -- what users see -------------------------------------------------------------

    def look(self, user: UserState):
        """Read the user's new bubbles: answers received, buttons to tap."""
        from handoff.tap import TAP_DATA

        chat = self.sim.chats.get(user.user_id, [])
        for entry in chat[user.seen :]:
            if entry["from"] != "bot":
                continue
            for message in entry["messages"]:
                text = message.get("text", "")
                if text.startswith("["):
                    key = text.split("]")[0][1:]
                    user.received[key] = (entry["time"] / 1000.0, entry["method"])
                items = (message.get("quickReply") or {}).get("items", [])
                if (
                    user.waiting
                    and not self.gone(user)
                    and any(i["action"].get("data") == TAP_DATA for i in items)
                ):
                    delay = lognormal(self.rng, self.cfg.tap_median, 0.5)
                    self.at(self.clock() + delay, self.tap, user, user.exchange)
        user.seen = len(chat)
        if user.waiting:
            exchange = user.conversation.exchanges[user.exchange]
            prefix = f"{user.conversation.index}:{user.exchange}:"
            got = sum(1 for k in user.received if k.startswith(prefix))
            if got == exchange.bubbles:
                user.waiting = False
                if user.exchange + 1 < len(user.conversation.exchanges):
                    self.at(self.clock() + exchange.think, self.ask, user)

    # -- the run ------------------------------------------------------------------

    def run(self) -> dict:
        import heapq

        started = time.perf_counter()
        for user in self.users:
            begin = START + user.conversation.start
            self.at(begin, self.start, user)
            self.at(begin + 5, self.ask, user)
        self.presence()
        next_upkeep = START + 1
        next_presence = START + 30
        while self.queue:
            when = self.queue[0][0]
            while next_upkeep <= when:
                self.clock.now = next_upkeep
                self.upkeep()
                self.look_all()
                if next_upkeep >= next_presence:
                    self.presence()
                    next_presence += 30
                next_upkeep += 1
            _when, _seq, action, args = heapq.heappop(self.queue)
            self.clock.now = max(self.clock.now, when)
            action(*args)
            self.look_all()
        # Let the upkeep finish what is held (answers held past the wait).
        for _ in range(int(self.runtime_settings()["held_max_minutes"]) * 60 + 120):
            if not self.runtime.delivery.held_chats(float("inf")):
                break
            self.clock.now += 1
            self.upkeep()
        self.look_all()
        self.stop()
        return self.measure(time.perf_counter() - started)

    def runtime_settings(self):
        from api.settings import get_settings

        return get_settings(self.runtime.redis)

    def look_all(self):
        for user in self.users:
            if user.seen < len(self.sim.chats.get(user.user_id, [])):
                self.look(user)

    def button_offers(self) -> int:
        """Tap-to-receive messages users got (the acknowledgements not counted)."""
        from handoff.tap import TAP_TEXT

        return sum(
            1
            for chat in self.sim.chats.values()
            for entry in chat
            if entry["from"] == "bot"
            and any(m.get("text") == TAP_TEXT for m in entry["messages"])
        )

    def measure(self, seconds) -> dict:
        posted = 0
        free = pushed = 0
        delays = []
        held = sum(1 for answer in self.answers if answer[1] == "held")
        for user in self.users:
            for number, exchange in enumerate(user.conversation.exchanges):
                posted_at = next(
                    (p for p, _d, u, n in self.answers if u is user and n == number),
                    None,
                )
                if posted_at is None:
                    continue
                for b in range(exchange.bubbles):
                    posted += 1
                    got = user.received.get(f"{user.conversation.index}:{number}:{b}")
                    if got is None:
                        continue
                    if got[1] == "reply":
                        free += 1
                    else:
                        pushed += 1
                    if b == 0 and got[0] - posted_at > 0.5:
                        delays.append(got[0] - posted_at)
        delivered = free + pushed
        return {
            "policy": self.policy.name,
            "billable": self.sim.total_usage(),
            "agent_bubbles": posted,
            "delivered": delivered,
            "free_share": free / posted if posted else 0.0,
            "held_answers": held,
            "held_delay_median": statistics.median(delays) if delays else 0.0,
            "held_delay_max": max(delays) if delays else 0.0,
            "undelivered": posted - delivered,
            "button_offers": self.button_offers(),
            "taps": self.taps,
            "wall_seconds": seconds,
        }


def table(results: list[dict], baseline: int) -> str:
    lines = [
        "| policy | billable | vs push-every | agent bubbles free (delivered/posted) "
        "| held answers "
        "| held delay median / max (s) | undelivered | button offers / taps |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        share = f"{100.0 * r['billable'] / baseline:.0f} %" if baseline else "-"
        lines.append(
            f"| {r['policy']} | {r['billable']} | {share} "
            f"| {100 * r['free_share']:.1f} % ({r['delivered']}/{r['agent_bubbles']}) "
            f"| {r['held_answers']} "
            f"| {r['held_delay_median']:.0f} / {r['held_delay_max']:.0f} "
            f"| {r['undelivered']} | {r['button_offers']} / {r['taps']} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--first-answer-median", type=float, default=90.0)
    parser.add_argument("--later-answer-median", type=float, default=30.0)
    parser.add_argument("--answer-sigma", type=float, default=0.8)
    parser.add_argument("--exchanges-mean", type=float, default=2.5)
    parser.add_argument(
        "--leave-share",
        type=float,
        default=0.0,
        help="share of users who leave after their last question (no pings, taps)",
    )
    parser.add_argument("--policy", action="append", help="run only these policies")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument(
        "--http",
        action="store_true",
        help="reach the simulator over HTTP through the LINE SDK (slower)",
    )
    args = parser.parse_args(argv)
    import logging

    logging.disable(logging.WARNING)

    cfg = TraceConfig(
        conversations=args.conversations,
        seed=args.seed,
        first_answer_median=args.first_answer_median,
        later_answer_median=args.later_answer_median,
        answer_sigma=args.answer_sigma,
        exchanges_mean=args.exchanges_mean,
        leave_share=args.leave_share,
    )
    trace = generate(cfg)
    shape = describe(trace)
    print(
        f"trace: {shape['conversations']} conversations, "
        f"{shape['exchanges_mean']:.2f} exchanges each, "
        f"first answer median {shape['first_answer_median']:.0f} s, "
        f"later {shape['later_answer_median']:.0f} s, {shape['bubbles']} bubbles"
    )
    chosen = [p for p in POLICIES if not args.policy or p.name in args.policy]
    results = []
    for policy in chosen:
        result = Replay(copy.deepcopy(trace), cfg, policy, http=args.http).run()
        results.append(result)
        print(
            f"  {policy.name}: {result['billable']} billable "
            f"({result['wall_seconds']:.1f} s wall)",
            flush=True,
        )
    baseline = next(
        (r["billable"] for r in results if r["policy"] == "push every message"), 0
    )
    rendered = table(results, baseline)
    print()
    print(rendered)
    verdicts = check(results, baseline)
    for line in verdicts:
        print(line)
    if args.write:
        write(rendered, shape, cfg, verdicts, args.http)
    return 0


def check(results, baseline) -> list[str]:
    by_name = {r["policy"]: r for r in results}
    lines = []
    pool = by_name.get("token pool + bundling")
    if pool and baseline:
        share = pool["billable"] / baseline
        verdict = "met" if share <= 0.25 else "MISSED"
        lines.append(
            f"target pool + bundling <= 25 % of push-every: {share:.0%} ({verdict})"
        )
    free = by_name.get("free-only")
    if free:
        ok = free["billable"] == 0 and free["undelivered"] == 0
        verdict = "met" if ok else "MISSED"
        lines.append(
            f"target free-only 0 billable, all delivered: {free['billable']} billable, "
            f"{free['undelivered']} undelivered ({verdict})"
        )
    return lines


def write(rendered, shape, cfg, verdicts, http) -> None:
    path = ROOT / "BENCHMARKS.md"
    slug = "economics" if not cfg.leave_share else "economics-leavers"
    begin, end = f"<!-- {slug}:begin -->", f"<!-- {slug}:end -->"
    section = "\n".join(
        [
            begin,
            (
                "## Free-window economics (`python -m bench.economics --write"
                + (" --http" if http else "")
                + (f" --leave-share {cfg.leave_share}" if cfg.leave_share else "")
                + "`)"
            ),
            "",
            f"Trace: {shape['conversations']} handed-off conversations (seed "
            f"{cfg.seed}), {shape['exchanges_mean']:.2f} exchanges on average, "
            f"first-answer median {shape['first_answer_median']:.0f} s, later "
            f"answers {shape['later_answer_median']:.0f} s (log-normal, sigma "
            f"{cfg.answer_sigma}), 1-{cfg.max_bubbles} bubbles per answer, "
            f"{shape['bubbles']} bubbles; users ping about every "
            f"{cfg.ping_mean:.0f} s while waiting and tap the button after about "
            f"{cfg.tap_median:.0f} s"
            + (
                f"; {cfg.leave_share:.0%} of users leave after their last question "
                "(no pings, no taps)"
                if cfg.leave_share
                else ""
            )
            + ". Replayed on a virtual clock in one process "
            "(fakeredis): signed webhook -> `/callback` -> the worker's "
            "`drain_chat` and upkeep -> the agents' API -> "
            + (
                "the simulator over HTTP through the LINE SDK"
                if http
                else "the simulator's LINE state in process (no HTTP to LINE)"
            )
            + "; no RQ round trip, one worker.",
            "",
            rendered,
            "",
            *[f"- {line}" for line in verdicts],
            "",
            "Held delay: from the agent's post to the user's phone, over answers "
            "not delivered at once. Button offers: the free 'get the answer' "
            "messages sent on lapsing tokens (the acknowledgement's button not "
            "counted); taps: the users' taps, each a free reply token.",
            end,
        ]
    )
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
