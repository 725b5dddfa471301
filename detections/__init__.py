"""Rules, alert building and campaign correlation, and the alert store."""
