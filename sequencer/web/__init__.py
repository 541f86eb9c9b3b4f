"""The manager dashboard (`sequencer web`): pages over the same report as `sequencer report`.

Needs the optional `web` extra (Starlette, uvicorn, itsdangerous); import
``sequencer.web.app.create_app`` only where the dashboard is served.
"""
