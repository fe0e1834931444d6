"""`python -m services.sessions`: run one session worker (settings from VOLTSTREAM_* env)."""

from services.sessions.app import run

if __name__ == "__main__":
    run()
