"""The shipped alerts: Prefect automations from alerts.yaml (and one per circuit), created
or updated by name, so `multistore setup` can run any number of times.

Each notifies through the notification block `multistore-alerts`; setup creates it as a Custom
Webhook (to MULTISTORE_ALERT_WEBHOOK_URL) only when it does not exist, so a block the user
configured is never overwritten.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.orchestration import get_client
from prefect.events.actions import SendNotification
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.exceptions import ObjectNotFound

from multistore import datafiles
from multistore.breaker import load_policies
from multistore.health import JOB_SERVICES
from multistore.settings import get_settings
from multistore.store_events import CIRCUIT_CLOSED, CIRCUIT_OPENED

ALERTS_FILE = "alerts.yaml"
ALERT_BLOCK = "multistore-alerts"
# Where the webhook points until the user configures it (nothing listens on the discard port).
UNCONFIGURED_URL = "http://127.0.0.1:9/multistore-alerts-not-configured"


def load_alerts(path: Path | None = None) -> list[dict[str, Any]]:
    """The alerts of the file, then one "circuit open longer than its cool-down" per service."""
    raw = datafiles.read(datafiles.find(ALERTS_FILE, path))
    alerts = list(raw.get("alerts") or [])
    policies = load_policies()
    services = sorted({s for group in JOB_SERVICES.values() for s in group})
    for service in services:
        cooldown = policies.get(service, policies["default"]).cooldown_seconds
        alerts.append(
            {
                "name": f"multistore: circuit {service} open longer than its cool-down",
                "description": f"The {service} circuit opened and did not close within "
                f"{cooldown:g} s (its cool-down): the service is still failing.",
                "trigger": {
                    "type": "event",
                    "posture": Posture.Proactive,
                    "after": [CIRCUIT_OPENED],
                    "expect": [CIRCUIT_CLOSED],
                    "match": {"prefect.resource.id": f"multistore.circuit.{service}"},
                    "for_each": ["prefect.resource.id"],
                    "threshold": 1,
                    # Prefect evaluates proactive triggers with a minimum window of 10 s.
                    "within": max(cooldown, 10.0),
                },
                "subject": f"multistore: circuit {service} still open",
                "body": f"The {service} circuit has been open longer than its {cooldown:g} s "
                "cool-down: {{ event.payload.error }}",
            }
        )
    return alerts


async def ensure_alert_block() -> tuple[Any, bool]:
    """The notification block (created when missing); True when it was created now."""
    try:
        block = await CustomWebhookNotificationBlock.aload(ALERT_BLOCK)
        return block, False
    except (ValueError, ObjectNotFound):
        pass
    url = get_settings().alert_webhook_url or UNCONFIGURED_URL
    block = CustomWebhookNotificationBlock(
        name=ALERT_BLOCK,
        url=url,
        json_data={"subject": "{{subject}}", "body": "{{body}}"},
    )
    await block.asave(ALERT_BLOCK)
    return await CustomWebhookNotificationBlock.aload(ALERT_BLOCK), True


async def ensure_alerts(path: Path | None = None) -> list[str]:
    """Create or update every alert (by name); the names."""
    specs = load_alerts(path)  # a bad file fails before anything is written
    block, _ = await ensure_alert_block()
    block_id = block._block_document_id
    names = []
    async with get_client() as client:
        for spec in specs:
            trigger = dict(spec["trigger"])
            trigger["within"] = timedelta(seconds=float(trigger.get("within", 0)))
            automation = AutomationCore(
                name=spec["name"],
                description=spec.get("description", ""),
                trigger=EventTrigger(**trigger),
                actions=[
                    SendNotification(
                        block_document_id=block_id, subject=spec["subject"], body=spec["body"]
                    )
                ],
            )
            existing = await client.read_automations_by_name(spec["name"])
            if existing:
                await client.update_automation(existing[0].id, automation)
                for duplicate in existing[1:]:
                    await client.delete_automation(duplicate.id)
            else:
                await client.create_automation(automation)
            names.append(spec["name"])
    return names
