"""Billing's use cases: record a ticket event and bring the account's ledger up to date; read
charges, statements, prepaid time and TAM hours."""
