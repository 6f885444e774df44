"""Kafka, Faust table and event-store adapters of the SLA service."""
