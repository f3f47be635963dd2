"""Email notifications: who follows what, the outbox, and the dispatcher that sends it."""
