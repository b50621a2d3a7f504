"""HTTP shape of webhook subscriptions and their delivery log (admin scope throughout)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from flask.views import MethodView
from marshmallow import RAISE, Schema, fields, validate

from api.auth import WrittenBy, require, written_by
from api.consistency import MAX_POSITION
from api.json_bodies import Blueprint
from api.paging import PageArgs, decode_cursor, encode_cursor
from api.services import services
from timeline.domain.subscription import EVENT_TYPES, MAX_DESCRIPTION, MAX_URL_LENGTH
from timeline.domain.values import KINDS, MAX_SIDE, SIDE_ERROR, SIDE_PATTERN
from timeline.webhooks.deliverer import message_id
from timeline.webhooks.delivery_log import STATUSES

blp = Blueprint(
    "subscriptions",
    __name__,
    url_prefix="/api/v1/subscriptions",
    description="Webhook subscriptions: signed (Standard Webhooks), retried, replayable "
    "deliveries of new events. Every operation needs an admin key.",
)
ADMIN: list[dict[str, list[str]]] = [{"bearerAuth": []}]
DELIVERIES = "deliveries"  # the kind of cursor the delivery log hands out


class FilterSchema(Schema):
    """Narrow the events: incident kinds, source sides (statements only); empty means any."""

    kinds = fields.List(fields.String(validate=validate.OneOf(KINDS)), load_default=list)
    sides = fields.List(
        fields.String(
            validate=[validate.Length(1, MAX_SIDE), validate.Regexp(SIDE_PATTERN, error=SIDE_ERROR)]
        ),
        load_default=list,
        metadata={"example": ["UA"]},
    )


# A webhook's URL as far as OpenAPI can say it: http(s), a host, a port, no credentials and no
# fragment (whether the host resolves, and to an allowed address, is checked on use).
PORT = r"([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
HOOK_URL_PATTERN = (
    rf"^[Hh][Tt][Tt][Pp][Ss]?://([A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(:{PORT})?([/?][^#]*)?$"
)
HOOK_URL_ERROR = "Only http and https URLs can receive webhooks."


class SubscriptionFields(Schema):
    """What a client sets on a subscription."""

    url = fields.String(
        required=True,
        validate=[
            validate.Length(1, MAX_URL_LENGTH),
            validate.Regexp(HOOK_URL_PATTERN, error=HOOK_URL_ERROR),
        ],
        metadata={
            "example": "https://example.org/hooks/timeline",
            "description": "Where deliveries go: an http(s) URL, its host a name (an "
            "internationalised one in its xn-- form), an IPv4 address or an IPv6 address in "
            "brackets, that resolves to an address the webhook policy allows (422 otherwise: "
            "private addresses only with TIMELINE_WEBHOOK_ALLOW_PRIVATE).",
        },
    )
    event_types = fields.List(
        fields.String(validate=validate.OneOf(tuple(EVENT_TYPES.values()))),
        required=True,
        validate=validate.Length(min=1),
        metadata={"example": ["statement.recorded"]},
    )
    filter = fields.Nested(FilterSchema, load_default=None)
    description = fields.String(load_default="", validate=validate.Length(max=MAX_DESCRIPTION))


class SubscriptionChange(Schema):
    """Any of the settable fields, and ``status`` to pause or resume."""

    url = fields.String(
        validate=[
            validate.Length(1, MAX_URL_LENGTH),
            validate.Regexp(HOOK_URL_PATTERN, error=HOOK_URL_ERROR),
        ]
    )
    event_types = fields.List(
        fields.String(validate=validate.OneOf(tuple(EVENT_TYPES.values()))),
        validate=validate.Length(min=1),
    )
    filter = fields.Nested(FilterSchema)
    description = fields.String(validate=validate.Length(max=MAX_DESCRIPTION))
    status = fields.String(
        validate=validate.OneOf(("active", "paused")),
        metadata={"description": "active resumes (also a disabled subscription); paused stops."},
    )


class ReceiverHealth(Schema):
    """How the receiver has been answering."""

    failing_since = fields.String(allow_none=True)
    last_success_at = fields.String(allow_none=True)
    last_error = fields.String(allow_none=True)


class SubscriptionOut(Schema):
    """A subscription; its secret is shown only when created or rotated."""

    id = fields.String()
    url = fields.String()
    event_types = fields.List(fields.String())
    filter = fields.Nested(FilterSchema)
    description = fields.String()
    status = fields.String(metadata={"description": "active, paused or disabled"})
    disabled_reason = fields.String(allow_none=True)
    start_position = fields.Integer(
        metadata={"description": "Events after this log position are delivered."}
    )
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    created_by = fields.Nested(
        WrittenBy, allow_none=True, metadata={"description": "The admin key that created it."}
    )
    updated_by = fields.Nested(
        WrittenBy,
        allow_none=True,
        metadata={"description": "The admin key of the last change (null: the service)."},
    )
    version = fields.Integer()
    receiver = fields.Nested(ReceiverHealth)


class SubscriptionWithSecret(SubscriptionOut):
    """The subscription and its signing secret: store it now, it is not shown again."""

    secret = fields.String(metadata={"example": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
    previous_secret_valid_until = fields.AwareDateTime(allow_none=True)


class SubscriptionList(Schema):
    """Every subscription."""

    items = fields.List(fields.Nested(SubscriptionOut))


class AttemptOut(Schema):
    """One try at sending a delivery."""

    attempt = fields.Integer()
    attempted_at = fields.String()
    status_code = fields.Integer(allow_none=True)
    latency_ms = fields.Float()
    error = fields.String(allow_none=True)


class DeliveryOut(Schema):
    """One event sent (or to be sent) to one subscription; identified by the event's position."""

    position = fields.Integer()
    webhook_id = fields.String()
    event_type = fields.String()
    incident_id = fields.String()
    status = fields.String(metadata={"description": "pending, sending, delivered or failed"})
    next_attempt_at = fields.String(allow_none=True)
    created_at = fields.String()
    attempts = fields.List(fields.Nested(AttemptOut))


class DeliveryArgs(PageArgs):
    """Filter and page the delivery log (newest event first)."""

    status = fields.String(validate=validate.OneOf(STATUSES))
    before = fields.Integer(
        validate=validate.Range(1, MAX_POSITION),
        metadata={
            "description": "Deprecated (use cursor): continue below this position.",
            "deprecated": True,
        },
    )


class DeliveryPage(Schema):
    """A page of the delivery log; pass ``next_cursor`` as ``cursor`` for the next one."""

    items = fields.List(fields.Nested(DeliveryOut))
    next_cursor = fields.String(allow_none=True)
    next_before = fields.Integer(
        allow_none=True,
        metadata={"description": "Deprecated (use next_cursor): the position to continue below."},
    )


# What a replay's answer says when its deliveries cannot go out yet.
HELD = {
    "paused": "The subscription is paused: the queued deliveries are sent once it is active "
    'again (PATCH it with {"status": "active"}).',
    "disabled": "The subscription was disabled after failing too long: the queued deliveries "
    'are sent once it is active again (PATCH it with {"status": "active"}).',
}


class ReplayIn(Schema):
    """Where to replay from."""

    after = fields.Integer(required=True, strict=True, validate=validate.Range(0, MAX_POSITION))


class ReplayOut(Schema):
    """What a replay queued; call again with ``after=next_after`` until ``done``."""

    queued = fields.Integer()
    next_after = fields.Integer()
    done = fields.Boolean()
    status = fields.String(metadata={"description": "The subscription's status now."})
    message = fields.String(
        allow_none=True,
        metadata={
            "description": "Why nothing will arrive yet, if so: a paused or disabled "
            "subscription keeps what was queued until it is active again."
        },
    )


def _view(subscription_id: str, view: dict[str, Any]) -> dict[str, Any]:
    return view | {"receiver": services().deliveries.receiver(subscription_id)}


def _delivery(row: dict[str, Any]) -> dict[str, Any]:
    return row | {"webhook_id": message_id(int(row["position"]))}


@blp.route("")
class Subscriptions(MethodView):
    """The collection of subscriptions."""

    @require("admin")
    @blp.doc(security=ADMIN)
    @blp.arguments(SubscriptionFields())
    @blp.response(201, SubscriptionWithSecret)
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Subscribe a URL to event types; the answer holds the signing secret, once."""
        body["filter"] = body.get("filter") or {"kinds": [], "sides": []}
        svc = services()
        created = svc.subscriptions.create(body, svc.app.head(), written_by())
        location = f"/api/v1/subscriptions/{created['id']}"
        return _view(created["id"], created), 201, {"Location": location}

    @require("admin")
    @blp.doc(security=ADMIN)
    @blp.response(200, SubscriptionList)
    def get(self) -> dict[str, Any]:
        """Every subscription (without secrets)."""
        return {"items": [_view(s["id"], s) for s in services().subscriptions.all()]}


@blp.route("/<uuid:subscription_id>")
class SubscriptionResource(MethodView):
    """One subscription."""

    @require("admin")
    @blp.doc(security=ADMIN)
    @blp.response(200, SubscriptionOut)
    @blp.alt_response(404, description="No such subscription.")
    def get(self, subscription_id: UUID) -> dict[str, Any]:
        """The subscription, with how its receiver has been answering."""
        return _view(str(subscription_id), services().subscriptions.get(subscription_id))

    @require("admin")
    @blp.doc(security=ADMIN)
    @blp.arguments(SubscriptionChange())
    @blp.response(200, SubscriptionOut)
    @blp.alt_response(404, description="No such subscription.")
    def patch(self, body: dict[str, Any], subscription_id: UUID) -> dict[str, Any]:
        """Change the URL, types or filter; pause (``status: paused``) or resume."""
        svc = services()
        view = svc.subscriptions.change(subscription_id, body, written_by())
        if view["status"] == "active":
            svc.notify_dispatched({str(subscription_id)})  # send what waited while paused
        return _view(str(subscription_id), view)

    @require("admin")
    @blp.doc(security=ADMIN)
    @blp.response(204)
    @blp.alt_response(404, description="No such subscription.")
    def delete(self, subscription_id: UUID) -> None:
        """Delete the subscription; its delivery log is kept."""
        services().subscriptions.delete(subscription_id, written_by())


@blp.route("/<uuid:subscription_id>/secret/rotate")
class SecretRotation(MethodView):
    """Replace the signing secret."""

    @require("admin")
    @blp.doc(security=ADMIN)
    @blp.response(200, SubscriptionWithSecret)
    @blp.alt_response(404, description="No such subscription.")
    def post(self, subscription_id: UUID) -> dict[str, Any]:
        """New secret now; the old one keeps signing too for the overlap, then stops."""
        svc = services()
        overlap = timedelta(seconds=svc.settings.webhook_secret_overlap)
        rotated = svc.subscriptions.rotate_secret(subscription_id, overlap, written_by())
        return _view(str(subscription_id), rotated)


@blp.route("/<uuid:subscription_id>/deliveries")
class Deliveries(MethodView):
    """The delivery log."""

    @require("admin")
    @blp.doc(security=ADMIN)
    @blp.arguments(DeliveryArgs(), location="query", unknown=RAISE)
    @blp.response(200, DeliveryPage)
    @blp.alt_response(404, description="No such subscription.")
    def get(self, args: dict[str, Any], subscription_id: UUID) -> dict[str, Any]:
        """Deliveries, newest event first, each with every attempt."""
        svc = services()
        svc.subscriptions.get(subscription_id)
        key = decode_cursor(DELIVERIES, args.get("cursor"), 1)
        before = key[0] if key else args.get("before")
        rows, below = svc.deliveries.list(
            str(subscription_id), before=before, status=args.get("status"), limit=args["limit"]
        )
        return {
            "items": [_delivery(r) for r in rows],
            "next_cursor": encode_cursor(DELIVERIES, [below]) if below else None,
            "next_before": below,
        }


@blp.route(f"/<uuid:subscription_id>/deliveries/<int(max={MAX_POSITION}):position>")
class DeliveryResource(MethodView):
    """One delivery."""

    @require("admin")
    @blp.doc(security=ADMIN)
    @blp.response(200, DeliveryOut)
    @blp.alt_response(404, description="No such subscription or delivery.")
    def get(self, subscription_id: UUID, position: int) -> dict[str, Any]:
        """A delivery with every attempt."""
        svc = services()
        svc.subscriptions.get(subscription_id)
        return _delivery(svc.deliveries.get(str(subscription_id), position))


@blp.route(f"/<uuid:subscription_id>/deliveries/<int(max={MAX_POSITION}):position>/redeliver")
class Redelivery(MethodView):
    """Send one delivery again."""

    @require("admin")
    @blp.doc(security=ADMIN)
    @blp.response(202)
    @blp.alt_response(404, description="No such subscription or delivery.")
    def post(self, subscription_id: UUID, position: int) -> None:
        """Queue the delivery again now (same webhook-id)."""
        svc = services()
        svc.subscriptions.get(subscription_id)
        sid = str(subscription_id)
        svc.deliveries.redeliver(sid, position, datetime.now(UTC))
        svc.notify_dispatched({sid})


@blp.route("/<uuid:subscription_id>/replay")
class Replay(MethodView):
    """Send past events again."""

    @require("admin")
    @blp.doc(security=ADMIN)
    @blp.arguments(ReplayIn())
    @blp.response(202, ReplayOut)
    @blp.alt_response(404, description="No such subscription.")
    def post(self, body: dict[str, Any], subscription_id: UUID) -> dict[str, Any]:
        """Queue every matching event after ``after`` again (for a receiver that lost data)."""
        svc = services()
        queued, reached, done = svc.replay(subscription_id, body["after"])
        status = svc.subscriptions.get(subscription_id)["status"]
        return {
            "queued": queued,
            "next_after": reached,
            "done": done,
            "status": status,
            "message": None if status == "active" else HELD[status],
        }
