"""make bench: the bot's throughput and latency against reference handlers (see README.md)."""
