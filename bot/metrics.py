"""Prometheus 指标（/metrics）。One registry per app, so tests can run several apps."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter(
            "lianxin_events_total",
            "Inbound events by platform, command and outcome",
            ["platform", "command", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "lianxin_event_seconds",
            "Time to handle one inbound event",
            ["platform"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.dedup_hits = Counter(
            "lianxin_dedup_hits_total",
            "Repeated deliveries answered without acting again",
            ["platform"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "lianxin_rejected_requests_total",
            "Webhook requests refused before dispatch (signature, format, size)",
            ["platform", "reason"],
            registry=self.registry,
        )
        self.sends = Counter(
            "lianxin_outbound_sends_total",
            "Outbound messages by platform and outcome",
            ["platform", "outcome"],
            registry=self.registry,
        )

        # labels() validates and locks on every call: each event's children, found once.
        self._event_children: dict[tuple[str, str, str], Any] = {}
        self._latency_children: dict[str, Any] = {}

    def count_event(self, platform: str, command: str, outcome: str, seconds: float) -> None:
        """One handled event: lianxin_events_total and lianxin_event_seconds."""
        key = (platform, command, outcome)
        counter = self._event_children.get(key)
        if counter is None:
            counter = self._event_children[key] = self.events.labels(*key)
        counter.inc()
        latency = self._latency_children.get(platform)
        if latency is None:
            latency = self._latency_children[platform] = self.latency.labels(platform)
        latency.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
