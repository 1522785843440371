"""Monitoring: prediction logs read back, drift, live quality and service health against the card."""
