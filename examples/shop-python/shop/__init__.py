"""A tiny order-processing service used as Crashloom's Python example."""
