"""Delivery: building messages and the transports that carry them."""
