"""The local stack: embedded PostgreSQL, the Tansu broker, topics, and the services as children."""
