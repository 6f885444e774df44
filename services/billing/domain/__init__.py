"""The charge rules and their arithmetic: pure functions of a ticket's history, the policy's
charge rules and the account's terms. No I/O, no clock reads."""
