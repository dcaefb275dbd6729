"""Profile one page of the seeded bench database with pyinstrument (server side, test client).

    .venv/bin/pip install pyinstrument
    .venv/bin/python bench/profile_page.py /runs/50/          # or "/runs/compare/?ids=..."
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402


def main() -> None:
    common.django_setup(migrate=False)
    from django.contrib.auth import get_user_model
    from django.test import Client
    from pyinstrument import Profiler

    client = Client(HTTP_HOST="127.0.0.1")
    user, _ = get_user_model().objects.get_or_create(username="bench")
    client.force_login(user)
    path = sys.argv[1]
    assert client.get(path).status_code == 200  # warm-up
    profiler = Profiler(interval=0.001)
    profiler.start()
    client.get(path)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False, short_mode=False))


if __name__ == "__main__":
    main()
