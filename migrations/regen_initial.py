"""Development tool: regenerate the initial migration from the models.

Only valid until the first production deployment; after that every schema change gets its own revision
(``alembic revision --autogenerate``). Usage: ``.venv/bin/python migrations/regen_initial.py``.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alembic import command  # noqa: E402

from bot.storage.migrate import MIGRATIONS_DIR, alembic_config  # noqa: E402

target = MIGRATIONS_DIR / "versions" / "0001_initial_schema.py"
target.unlink(missing_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    command.revision(alembic_config(f"sqlite+aiosqlite:///{tmp}/regen.db"), message="initial schema",
                     autogenerate=True, rev_id="0001")
text = target.read_text()
text = re.sub(r"bot\.storage\.models\.UTCDateTime\(timezone=True\)", "sa.DateTime(timezone=True)", text)
text = text.replace("import bot.storage.models\n", "")
target.write_text(text)
print(f"wrote {target}")
