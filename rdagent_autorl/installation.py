"""This installation's secret key: it authenticates what the harness writes where an agent could also
write (the grade cache), so a forged entry is recognised and ignored rather than trusted, and it seeds
every synthetic held-out set (`eval_seed`), so the package's code alone cannot regenerate one.

The key is 32 random bytes in `<home>/installation.key` (mode 0600), created on first use. It is a
per-machine secret, not a password: a process running as the same user with no sandbox can read it (the
agent sandbox keeps `<home>` out of an agent's sight); what it rules out is an entry forged without it,
e.g. a file an agent wrote into a cache folder it was told about.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path

from rdagent_autorl.settings import get_settings

KEY_FILE = "installation.key"
KEY_BYTES = 32


def _read_or_create(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of two processes creating it at once, one writes and both then read the same key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(KEY_BYTES))
    key = path.read_bytes()
    if len(key) != KEY_BYTES:  # another process is between create and write: its bytes land at once
        import time

        time.sleep(0.05)
        key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise RuntimeError(f"{path} is not a {KEY_BYTES}-byte key; delete it to make a new one (cached grades "
                           "signed with the old key are then graded again)")
    return key


@lru_cache(maxsize=4)
def _key(home: Path) -> bytes:
    return _read_or_create(home / KEY_FILE)


def installation_key() -> bytes:
    return _key(get_settings().home_dir)


def sign(payload: bytes) -> str:
    """HMAC-SHA256 of `payload` under the installation key (hex)."""
    return hmac.new(installation_key(), payload, hashlib.sha256).hexdigest()


def verify(payload: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(payload), str(signature))


def eval_seed(label: str) -> int:
    """The evaluation seed of one generator (a 128-bit integer): HMAC of `label` under the installation key.

    Every synthetic held-out set is drawn from such a seed, never from a constant in the package, so the code
    alone cannot regenerate it: another installation (another key) draws other items, and the same
    installation always draws the same ones. `label` names the task, the source and the generator's version
    (e.g. "gsm8k-rule/smoke/synthetic-v1"): a new generator version gets a seed of its own."""
    digest = hmac.new(installation_key(), b"eval-seed:" + label.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:16], "big")


def seed_hash(seed: int) -> str:
    """A public name of a seed (16 hex characters of its sha256): recorded with each grade and in workspaces,
    it says which held-out set was graded without revealing the seed (128 bits: not worth guessing)."""
    return hashlib.sha256(str(int(seed)).encode()).hexdigest()[:16]


def eval_seed_hash(label: str) -> str:
    """seed_hash(eval_seed(label))."""
    return seed_hash(eval_seed(label))
