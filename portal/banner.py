"""Printed by `make run` before the servers start."""

import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", default="8000")
args = parser.parse_args()

url = f"http://{args.host}:{args.port}/"
print(
    f"""
  Atrium is starting on {url}  (health: {url}healthz)

  Demo logins (user / password):
    physicist / physicist   member of Physics
    biologist / biologist   member of Biology
    operator  / operator    operator (staff, /admin/)

  Data lives in ./var/. Press Ctrl-C to stop the web server and the worker.
"""
)
