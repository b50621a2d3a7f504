"""Delivery jobs: send a subscription's due deliveries, retry failures on a schedule, give up.

One job works for one subscription at a time ("drain"): it claims due deliveries oldest first
and posts a batch of them concurrently. After a failure it stops and holds the receiver back
until the failed delivery's retry (scheduled through RQ's scheduler); a receiver that failed
lately is probed with one delivery at a time, so a receiver that is down or slow costs one
attempt per retry instead of one per queued event. Jobs are coalesced like projection
triggers: a pending flag in Redis means "a job is queued and has not started yet".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from uuid import UUID

import redis

from timeline.projections.sql import ViewDatabase
from timeline.subscriptions import SubscriptionNotFound, SubscriptionsApp, Target
from timeline.webhooks import delivery_log
from timeline.webhooks.policy import disables, retry_delay
from timeline.webhooks.sender import Outcome, post
from timeline.webhooks.signing import signed_headers

log = logging.getLogger(__name__)

# One job sends for at most this long, then queues a successor, so one busy subscription
# cannot keep a worker from the others.
JOB_BUDGET_SECONDS = 20.0
# Deliveries claimed at once, and sent this many at a time: the round trip to the receiver,
# not our work, is what each delivery mostly waits on.
CLAIM_BATCH = 32
PARALLEL_SENDS = 8


def message_id(position: int) -> str:
    """The webhook-id of an event: the same for every attempt, redelivery and replay."""
    return f"msg_{position}"


class Deliverer:
    """Sends deliveries for the subscriptions of one deployment."""

    def __init__(
        self,
        subscriptions: SubscriptionsApp,
        views: ViewDatabase,
        *,
        connection: Callable[[], redis.Redis],
        enqueue: Callable[[str], None],
        enqueue_at: Callable[[datetime, str], None],
        timeout: float,
        schedule: tuple[float, ...],
        disable_after: float,
        allow_private: bool,
        flag_expiry: float = 30.0,
        namespace: str = "timeline",
    ) -> None:
        self.subscriptions = subscriptions
        self.views = views
        self._redis = connection
        self._enqueue = enqueue
        self._enqueue_at = enqueue_at
        self.timeout = timeout
        self.schedule = schedule
        self.disable_after = disable_after
        self.allow_private = allow_private
        self.flag_expiry = flag_expiry
        self.namespace = namespace
        self._pool = ThreadPoolExecutor(PARALLEL_SENDS, thread_name_prefix="webhook-send")

    def trigger(self, subscription_ids: set[str] | list[str]) -> None:
        """Make sure a job will look at these subscriptions' due deliveries soon."""
        for subscription_id in subscription_ids:
            flag = self._pending_key(subscription_id)
            if self._redis().set(flag, "1", nx=True, ex=max(int(self.flag_expiry), 1)):
                self._enqueue(subscription_id)

    def drain(self, subscription_id: str) -> int:
        """The job: send what is due for one subscription; returns how many were delivered."""
        self._redis().delete(self._pending_key(subscription_id))
        try:
            target = self.subscriptions.target(UUID(subscription_id))
        except SubscriptionNotFound:
            return 0  # deleted: its deliveries stay in the log, unsent
        if target.status != "active":
            return 0  # paused or disabled: resumed subscriptions are triggered again
        hold = delivery_log.held_until(self.views, subscription_id)
        if hold is not None and hold > datetime.now(UTC):
            self._enqueue_at(hold, subscription_id)  # failing receiver: wait for its retry
            return 0
        started = time.monotonic()
        delivered = 0
        while time.monotonic() - started < JOB_BUDGET_SECONDS:
            # A receiver that failed lately is probed with one delivery, not a burst.
            batch = (
                1
                if delivery_log.endpoint_health(self.views, subscription_id)["failing_since"]
                else CLAIM_BATCH
            )
            now = datetime.now(UTC)
            lease = self.timeout + 30
            claimed = delivery_log.claim_due(self.views, subscription_id, now, lease, batch)
            if not claimed:
                self._schedule_next(subscription_id)
                return delivered
            attempts = list(self._pool.map(lambda item: self._send(target, item), claimed))
            recorded = delivery_log.record_attempts(self.views, subscription_id, attempts)
            delivered += sum(1 for a in attempts if a.outcome.ok)
            failed = [a for a in attempts if not a.outcome.ok]
            if failed:
                self._maybe_disable(target, failed[-1].outcome, recorded, failed[-1].attempted_at)
                self._schedule_next(subscription_id)
                return delivered
        self.trigger([subscription_id])  # budget spent: continue in a fresh job, behind others
        return delivered

    def _send(self, target: Target, item: delivery_log.Claimed) -> delivery_log.Attempt:
        """Sign and post one delivery (runs on the sending pool)."""
        sent_at = datetime.now(UTC)
        headers = signed_headers(
            message_id(item.position),
            target.signing_secrets(delivery_log.iso(sent_at)),
            item.payload,
            sent_at,
        )
        outcome = post(
            target.url,
            item.payload.encode(),
            headers,
            timeout=self.timeout,
            allow_private=self.allow_private,
        )
        retry_in = retry_delay(item.attempts + 1, self.schedule, outcome.retry_after)
        return delivery_log.Attempt(item, outcome, sent_at, retry_in)

    def _maybe_disable(
        self,
        target: Target,
        outcome: Outcome,
        recorded: delivery_log.Recorded,
        now: datetime,
    ) -> None:
        if disables(outcome.status_code):
            reason = "The receiver answered 410 Gone: it asked for no more deliveries."
        elif recorded.failing_since is not None and (
            now - recorded.failing_since >= timedelta(seconds=self.disable_after)
        ):
            since = recorded.failing_since.isoformat(timespec="seconds")
            reason = (
                f"Every delivery attempt since {since} failed (last: {outcome.error}); "
                "fix the receiver, then resume the subscription."
            )
        else:
            return
        log.warning("disabling subscription %s: %s", target.id, reason)
        self.subscriptions.disable(UUID(target.id), reason)

    def _schedule_next(self, subscription_id: str) -> None:
        """Ask RQ's scheduler to run this subscription's job when its next retry falls due."""
        due = delivery_log.earliest_due(self.views, subscription_id)
        if due is not None:
            self._enqueue_at(max(due, datetime.now(UTC)), subscription_id)

    def _pending_key(self, subscription_id: str) -> str:
        return f"{self.namespace}:webhooks:pending:{subscription_id}"

    def sweep(self) -> list[str]:
        """Trigger subscriptions with overdue deliveries (a lost job, an expired claim)."""
        overdue = delivery_log.overdue_subscriptions(self.views, datetime.now(UTC))
        active = {t.id for t in self.subscriptions.targets() if t.status == "active"}
        wanted = [s for s in overdue if s in active]
        self.trigger(wanted)
        return wanted
