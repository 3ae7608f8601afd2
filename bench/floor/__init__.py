"""The floor of bench/peers.py: a plain Django JsonResponse behind Django's default middleware."""
