"""The SLA service's use cases: a batch of ticket events in, SLA events and commands out
(`ingest`, written by `commit`); deadlines fired at their time once the event store allows
(`deadlines`); repairs from the event store (`repair`, `reconcile`); partitions coming and
going (`assignment`); replaying the whole store (`replay`). They take their ports (`ports`)
and call the pure domain; `SlaTracker` binds the worker's ones to its state."""
