"""The peers of bench/peers.py: DRF views behind djangorestframework-api-key and DRF tokens."""
