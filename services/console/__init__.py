"""The support console: what is about to breach, a ticket's clock history as a picture,
pages to acknowledge, and monthly compliance (issue 19)."""
