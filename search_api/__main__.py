"""``python -m search_api --host 127.0.0.1 --port 8001``: the API alone, with the request-head limits and
client-address rule of ``search_api.server`` (plain ``uvicorn search_api.app:app`` has neither)."""

from __future__ import annotations

import argparse

import uvicorn

from search_api.server import server_config


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m search_api", description="信用门户检索接口 (search API)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    uvicorn.Server(server_config("search_api.app:app", host=args.host, port=args.port,
                                 log_level=args.log_level)).run()


if __name__ == "__main__":
    main()
