"""The local driver: a simulated cloud whose state lives in Atrium's database."""
